"""API for investors' own nodes: a commitment signed with the investor's DID, sent to the
originator's node. No account: the signature is the investor's authority (remote.py)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from apps.identity.api_errors import ApiErrorSerializer, JSONBodyParser
from apps.ledger.models import Book
from apps.ledger.services import log_for_book
from apps.projects.models import money_text

from . import services
from .models import Commitment


class SignedCommitmentSerializer(serializers.Serializer):
    token = serializers.CharField(
        max_length=4096, help_text="compact EdDSA JWS, typ growr-commitment+jwt"
    )


class RemoteCommitmentSerializer(serializers.Serializer):
    commitment = serializers.UUIDField(source="public_id", help_text="its key in the funding book")
    project = serializers.UUIDField(source="project_id")
    investor = serializers.CharField(source="investor_did")
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField()
    status = serializers.CharField()
    request_id = serializers.CharField()
    funding_book = serializers.SerializerMethodField(
        help_text="the key (hex) of this node's funding book, the only book that speaks for the "
        "commitment: its state under commitment:<commitment>, the investor's shares under "
        "distribution:<commitment>:<payment>"
    )

    def get_funding_book(self, commitment: Commitment) -> str:
        return self.context["funding_book"]

    def get_amount(self, commitment: Commitment) -> str:
        return money_text(commitment.amount, commitment.currency)


class RemoteCommitmentsApi(APIView):
    """Commit to a project of this node from an investor's own node: POST {"token": <JWS>}
    signed with the investor's did:key, for this node's domain, valid 10 minutes. Checked like a
    commitment made here (open project, minimum ticket, cap per investor, what is left of the
    target). 201 for a new commitment, 200 when the same request id was sent before (a resend
    is the same commitment). Its state then shows in this node's public funding book under
    `commitment:<commitment>`."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AnonRateThrottle]
    parser_classes = [JSONBodyParser]

    @extend_schema(
        request=SignedCommitmentSerializer,
        responses={
            201: RemoteCommitmentSerializer,
            200: RemoteCommitmentSerializer,
            400: ApiErrorSerializer,
        },
        auth=[],
    )
    def post(self, request):
        data = SignedCommitmentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        commitment, created = services.commitment_from_node(token=data.validated_data["token"])
        funding_book = bytes(log_for_book(book=Book.FUNDING).key).hex()
        return Response(
            RemoteCommitmentSerializer(commitment, context={"funding_book": funding_book}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
