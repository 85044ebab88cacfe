"""API for accounts: tokens, the signed-in person, their notifications, and an originator's
team."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from apps.node.api_fields import QueryInteger

from . import selectors, services
from .api_errors import ApiErrorSerializer
from .models import STAFF_ROLES, Role, StaffInvitation, User
from .permissions import IsOriginatorAdmin, IsOriginatorStaff
from .serializers import NotificationListSerializer


class UserOutputSerializer(serializers.ModelSerializer):
    # Staff belong to an organization; borrowers, investors and operators have none (null).
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "organization", "is_active", "date_joined"]


class TokenApi(APIView):
    """Exchange e-mail and password for an API token, or revoke the caller's token."""

    class TokenInputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})

    class TokenOutputSerializer(serializers.Serializer):
        token = serializers.CharField()

    throttle_classes = [AnonRateThrottle]

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(
        request=TokenInputSerializer,
        responses={200: TokenOutputSerializer, 401: ApiErrorSerializer},
        auth=[],
    )
    def post(self, request):
        data = self.TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # django-axes counts failures here as on the login page; it marks the lockout on the
        # underlying HttpRequest, where its middleware looks.
        user = authenticate(
            request._request,
            username=data.validated_data["email"].lower(),
            password=data.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise AuthenticationFailed("E-mail or password is wrong.")
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(responses=UserOutputSerializer)
    def get(self, request):
        return Response(UserOutputSerializer(request.user).data)


class NotificationsApi(APIView):
    """The caller's own notifications newer than the id `after`, oldest first, `limit` at a
    time, with how many of all of theirs are unread: how a page whose WebSocket is down keeps
    up, and how an app follows them."""

    class NotificationsQuerySerializer(serializers.Serializer):
        after = QueryInteger(
            min_value=0, max_value=2**63 - 1, default=0, help_text="The last id seen."
        )
        limit = QueryInteger(min_value=1, max_value=100, default=50)

    @extend_schema(
        operation_id="notifications_list",
        parameters=[NotificationsQuerySerializer],
        responses=NotificationListSerializer,
    )
    def get(self, request):
        query = self.NotificationsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data["limit"]
        rows = selectors.notifications_after(
            user_id=request.user.pk, after=query.validated_data["after"], limit=limit + 1
        )
        answer = {
            "results": rows[:limit],
            "more": len(rows) > limit,
            "unread": selectors.unread_count(user_id=request.user.pk),
        }
        return Response(NotificationListSerializer(answer).data)


class TeamApi(ListAPIView):
    """The members of the caller's originator organization (staff only)."""

    permission_classes = [IsOriginatorStaff]
    serializer_class = UserOutputSerializer

    def get_queryset(self):
        return selectors.organization_members(organization=self.request.user.organization)


class InvitationOutputSerializer(serializers.ModelSerializer):
    invited_by = serializers.SlugRelatedField(slug_field="email", read_only=True)

    class Meta:
        model = StaffInvitation
        fields = ["id", "email", "role", "invited_by", "created_at", "expires_at"]


class InvitationListCreateApi(APIView):
    """Open invitations of the caller's organization; admins create new ones."""

    class InvitationInputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=[r.value for r in Role if r in STAFF_ROLES])

    def get_permissions(self):
        return [IsOriginatorAdmin()] if self.request.method == "POST" else [IsOriginatorStaff()]

    @extend_schema(responses=InvitationOutputSerializer(many=True))
    def get(self, request):
        invitations = selectors.organization_open_invitations(
            organization=request.user.organization
        )
        return Response(InvitationOutputSerializer(invitations, many=True).data)

    @extend_schema(request=InvitationInputSerializer, responses={201: InvitationOutputSerializer})
    def post(self, request):
        data = self.InvitationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, _ = services.staff_invitation_create(
            invited_by=request.user, **data.validated_data
        )
        return Response(InvitationOutputSerializer(invitation).data, status=status.HTTP_201_CREATED)
