"""API for projects: staff drafts and lifecycle, public offers, schedule previews, and a
borrower's eligibility. Thin: services and selectors do the work."""

from __future__ import annotations

import hashlib

from django.http import Http404, HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.identity.api_errors import ApiErrorSerializer
from apps.identity.models import Role
from apps.identity.permissions import IsOriginatorAdmin, IsOriginatorStaff, role_permission
from apps.node.api_fields import QueryInteger
from apps.node.cache import kept_at_version
from apps.node.kept_json import KeptJsonBeforeDrf

from . import selectors, services
from .models import Frequency, InterestMethod, Project

ERRORS = {400: ApiErrorSerializer, 403: ApiErrorSerializer, 404: ApiErrorSerializer}
OPEN_PROJECTS_CACHE_SECONDS = 60
IsBorrower = role_permission({Role.BORROWER})


class TermsSerializer(serializers.Serializer):
    """A project's terms. Durations count repayment periods (weeks, fortnights, months), or days
    for a bullet repayment; amounts are decimal strings in the project's currency."""

    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=4000, allow_blank=True, default="")
    currency = serializers.CharField(min_length=3, max_length=3)
    target_amount = serializers.DecimalField(max_digits=18, decimal_places=3)
    min_amount = serializers.DecimalField(max_digits=18, decimal_places=3)
    max_amount = serializers.DecimalField(max_digits=18, decimal_places=3)
    min_duration = serializers.IntegerField(min_value=0)
    max_duration = serializers.IntegerField(min_value=0)
    annual_rate = serializers.DecimalField(max_digits=7, decimal_places=4)
    interest_method = serializers.ChoiceField(choices=InterestMethod.choices)
    repayment_frequency = serializers.ChoiceField(choices=Frequency.choices)
    grace_periods = serializers.IntegerField(min_value=0, default=0)
    fee_percent = serializers.DecimalField(max_digits=6, decimal_places=3, default=0)
    fee_fixed = serializers.DecimalField(max_digits=18, decimal_places=3, default=0)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    invite_only = serializers.BooleanField(default=False)
    min_ticket = serializers.DecimalField(max_digits=18, decimal_places=3, default=0)
    max_ticket = serializers.DecimalField(
        max_digits=18, decimal_places=3, default=0, help_text="per investor; 0 for no cap"
    )
    first_loss_percent = serializers.DecimalField(max_digits=6, decimal_places=3, default=0)
    eligibility = serializers.JSONField(
        default=dict, help_text='criteria: {"all" | "any": [rules or groups]}'
    )


class ProjectSerializer(TermsSerializer):
    id = serializers.UUIDField(read_only=True)
    organization = serializers.CharField(source="organization.name", read_only=True)
    status = serializers.CharField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    close_reason = serializers.CharField(read_only=True)
    published_at = serializers.DateTimeField(read_only=True)
    page_url = serializers.SerializerMethodField()

    def get_page_url(self, project: Project) -> str:
        return services.public_terms(project)["page_url"]


class StaffProjectsApi(ListAPIView):
    """The organization's projects, drafts included; staff create drafts."""

    permission_classes = [IsOriginatorStaff]
    serializer_class = ProjectSerializer

    def get_queryset(self):
        return selectors.organization_projects(
            organization=self.request.user.organization
        ).select_related("organization")

    @extend_schema(request=TermsSerializer, responses={201: ProjectSerializer, **ERRORS})
    def post(self, request):
        data = TermsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(actor=request.user, terms=data.validated_data)
        return Response(ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


def _staff_project(request, pk) -> Project:
    project = selectors.organization_projects(organization=request.user.organization).filter(pk=pk)
    found = project.select_related("organization").first()
    if found is None:
        raise Http404("No such project in your organization.")
    return found


class StaffProjectApi(APIView):
    permission_classes = [IsOriginatorStaff]

    @extend_schema(responses={200: ProjectSerializer, **ERRORS})
    def get(self, request, pk):
        return Response(ProjectSerializer(_staff_project(request, pk)).data)

    @extend_schema(request=TermsSerializer, responses={200: ProjectSerializer, **ERRORS})
    def patch(self, request, pk):
        data = TermsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = services.project_update_draft(
            actor=request.user, project=_staff_project(request, pk), terms=data.validated_data
        )
        return Response(ProjectSerializer(project).data)


class ProjectTransitionApi(APIView):
    """publish, pause, resume or close (originator admins)."""

    permission_classes = [IsOriginatorAdmin]
    MOVES = {
        "publish": services.project_publish,
        "pause": services.project_pause,
        "resume": services.project_resume,
        "close": services.project_close,
    }

    class ReasonSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True)

    @extend_schema(
        operation_id="staff_projects_move",
        request=ReasonSerializer,
        responses={200: ProjectSerializer, **ERRORS},
    )
    def post(self, request, pk, move):
        if move not in self.MOVES:
            raise Http404("No such action.")
        project = _staff_project(request, pk)
        data = self.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kwargs = {}
        if move in ("pause", "close") and data.validated_data.get("reason"):
            kwargs["reason"] = data.validated_data["reason"]
        project = self.MOVES[move](actor=request.user, project=project, **kwargs)
        return Response(ProjectSerializer(project).data)


class ProjectAmendApi(APIView):
    """Raise the target or extend the end date of a published project (originator admins)."""

    permission_classes = [IsOriginatorAdmin]

    class AmendSerializer(serializers.Serializer):
        target_amount = serializers.DecimalField(max_digits=18, decimal_places=3, required=False)
        ends_on = serializers.DateField(required=False)

    @extend_schema(request=AmendSerializer, responses={200: ProjectSerializer, **ERRORS})
    def post(self, request, pk):
        data = self.AmendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_amend(
            actor=request.user,
            project=_staff_project(request, pk),
            amendment=services.Amendment(**data.validated_data),
        )
        return Response(ProjectSerializer(project).data)


class OpenProjectsApi(KeptJsonBeforeDrf, ListAPIView):
    """Projects open for applications on this node; anyone may read them."""

    # The same answer for everyone, as the books' read API: who asks is not looked up (DRF
    # reading the request's token or session was a twentieth of this API's time under load).
    authentication_classes: list = []
    permission_classes = [AllowAny]
    serializer_class = ProjectSerializer
    kept_json_version_key = selectors.PROJECTS_CHANGED_KEY

    @classmethod
    def kept_json_key(cls, request) -> str:
        # The day too: which projects are open follows the dates. The whole address: DRF's
        # pages link to their neighbours by it.
        address = f"{timezone.localdate()}|{request.build_absolute_uri()}"
        return "open-projects:" + hashlib.sha256(address.encode()).hexdigest()

    class FilterSerializer(serializers.Serializer):
        amount = serializers.DecimalField(max_digits=18, decimal_places=3, required=False)
        duration = QueryInteger(min_value=1, required=False)
        currency = serializers.CharField(max_length=3, required=False)

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.open_projects(**filters.validated_data)

    def list(self, request, *args, **kwargs):
        """The page as JSON from the cache while no project changed, the day (openness follows
        the dates) and the address are the same; OPEN_PROJECTS_CACHE_SECONDS bounds what else
        it shows (organizations' names) and a change committed out of order."""
        renderer = request.accepted_renderer
        if renderer.format != "json":
            return super().list(request, *args, **kwargs)
        body = kept_at_version(
            key=self.kept_json_key(request),
            version_key=self.kept_json_version_key,
            version=selectors.projects_changed,
            build=lambda: self._page_json(request, *args, **kwargs),
            seconds=OPEN_PROJECTS_CACHE_SECONDS,
        )
        return HttpResponse(body, content_type=renderer.media_type)

    def _page_json(self, request, *args, **kwargs) -> bytes:
        data = super().list(request, *args, **kwargs).data
        return request.accepted_renderer.render(
            data, request.accepted_media_type, self.get_renderer_context()
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("amount", str, description="a loan amount the project lends"),
            OpenApiParameter("duration", int, description="a duration the project allows"),
            OpenApiParameter("currency", str),
        ],
        auth=[],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PublicProjectApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: ProjectSerializer, 404: ApiErrorSerializer}, auth=[])
    def get(self, request, pk):
        project = selectors.project_for_viewer(pk=pk, viewer=request.user)
        if project is None:
            raise Http404("No such project.")
        return Response(ProjectSerializer(project).data)


class ScheduleRowSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    due_on = serializers.DateField()
    principal = serializers.DecimalField(max_digits=18, decimal_places=3)
    interest = serializers.DecimalField(max_digits=18, decimal_places=3)
    fee = serializers.DecimalField(max_digits=18, decimal_places=3)
    total_due = serializers.DecimalField(max_digits=18, decimal_places=3)
    balance = serializers.DecimalField(max_digits=18, decimal_places=3)


class ScheduleSerializer(serializers.Serializer):
    currency = serializers.CharField(source="terms.currency")
    principal = serializers.DecimalField(source="total_principal", max_digits=18, decimal_places=3)
    total_interest = serializers.DecimalField(max_digits=18, decimal_places=3)
    total_fees = serializers.DecimalField(max_digits=18, decimal_places=3)
    total_cost = serializers.DecimalField(max_digits=18, decimal_places=3)
    total_repaid = serializers.DecimalField(max_digits=18, decimal_places=3)
    maturity_date = serializers.DateField()
    rows = ScheduleRowSerializer(many=True)


class ScheduleApi(APIView):
    """The full repayment schedule and total cost of one loan under a project."""

    permission_classes = [AllowAny]

    class QuerySerializer(serializers.Serializer):
        amount = serializers.DecimalField(max_digits=18, decimal_places=3)
        duration = QueryInteger(min_value=1)
        disbursed_on = serializers.DateField(required=False)

    @extend_schema(
        parameters=[
            OpenApiParameter("amount", str, required=True),
            OpenApiParameter("duration", int, required=True),
            OpenApiParameter("disbursed_on", str, description="YYYY-MM-DD; today if left out"),
        ],
        responses={200: ScheduleSerializer, **ERRORS},
        auth=[],
    )
    def get(self, request, pk):
        project = selectors.project_for_viewer(pk=pk, viewer=request.user)
        if project is None:
            raise Http404("No such project.")
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        preview = selectors.schedule_preview(project=project, **query.validated_data)
        return Response(ScheduleSerializer(preview).data)
