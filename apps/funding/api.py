"""API for funding: investors commit to projects, cancel a commitment whose funds were not
sent yet, and follow their portfolio and statements; originator staff see their projects'
commitments, confirm the funds they receive and record refunds; anyone reads how far a project's
funding went. Thin: serializers check the form of what comes in, services hold the rules,
selectors read (another investor's or organization's commitment is simply not found: 404)."""

from __future__ import annotations

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.identity.api_errors import ApiErrorSerializer
from apps.identity.models import Role
from apps.identity.permissions import IsOriginatorStaff, role_permission
from apps.projects.selectors import project_for_viewer

from . import selectors, services
from . import serializers as shapes
from .models import Commitment

ERRORS = {400: ApiErrorSerializer, 403: ApiErrorSerializer, 404: ApiErrorSerializer}
IsInvestor = role_permission({Role.INVESTOR})


def _valid(serializer_class, data) -> dict:
    given = serializer_class(data=data)
    given.is_valid(raise_exception=True)
    return dict(given.validated_data)


def _own_commitment(request, pk) -> Commitment:
    commitment = selectors.investor_commitment(investor=request.user, public_id=pk)
    if commitment is None:
        raise Http404("You have no commitment with this id.")
    return commitment


def _organization_commitment(request, pk) -> Commitment:
    commitment = selectors.organization_commitment(
        organization=request.user.organization, public_id=pk
    )
    if commitment is None:
        raise Http404("Your organization's projects have no commitment with this id.")
    return commitment


# --- investors -------------------------------------------------------------------------------


class CommitmentsApi(ListAPIView):
    """The caller's commitments, newest first. POST commits an amount (a decimal string in the
    project's currency) to a published project: at least its minimum ticket, within its cap per
    investor and what is left of its target (201). request_id is the idempotency key: the same
    request_id and amount again is the same commitment, answered with 200; with another amount
    it is refused (400). The originator confirms the funds once it receives them."""

    permission_classes = [IsInvestor]
    serializer_class = shapes.CommitmentSerializer

    def get_queryset(self):
        return selectors.investor_commitments(investor=self.request.user)

    @extend_schema(
        request=shapes.CommitInputSerializer,
        responses={
            201: shapes.CommitmentSerializer,
            200: shapes.CommitmentSerializer,
            **ERRORS,
        },
    )
    def post(self, request):
        data = _valid(shapes.CommitInputSerializer, request.data)
        project = project_for_viewer(pk=data["project"], viewer=request.user)
        if project is None:
            raise serializers.ValidationError({"project": ["No such project."]})
        started = timezone.now()
        commitment = services.commitment_create(
            investor=request.user,
            project=project,
            amount=data["amount"],
            request_id=data["request_id"],
        )
        # A commitment made before this request is the one its request_id made: a replay.
        replay = commitment.created_at < started
        return Response(
            shapes.CommitmentSerializer(commitment).data,
            status=status.HTTP_200_OK if replay else status.HTTP_201_CREATED,
        )


class CommitmentApi(APIView):
    """One of the caller's commitments."""

    permission_classes = [IsInvestor]

    @extend_schema(responses={200: shapes.CommitmentSerializer, **ERRORS})
    def get(self, request, pk):
        return Response(shapes.CommitmentSerializer(_own_commitment(request, pk)).data)


class CommitmentCancelApi(APIView):
    """Withdraw a commitment whose funds the originator has not confirmed yet."""

    permission_classes = [IsInvestor]

    @extend_schema(request=None, responses={200: shapes.CommitmentSerializer, **ERRORS})
    def post(self, request, pk):
        commitment = services.commitment_cancel(
            investor=request.user, commitment=_own_commitment(request, pk)
        )
        return Response(shapes.CommitmentSerializer(commitment).data)


class PortfolioApi(APIView):
    """The caller's positions: per commitment, what it returned (principal), earned (interest),
    lost and still holds, and its XIRR; and totals per currency of the positions whose funds
    were received."""

    permission_classes = [IsInvestor]

    @extend_schema(responses={200: shapes.PortfolioSerializer, **ERRORS})
    def get(self, request):
        positions = selectors.investor_positions(investor=request.user)
        portfolio = {"positions": positions, "totals": selectors.portfolio_totals(positions)}
        return Response(shapes.PortfolioSerializer(portfolio).data)


class StatementApi(APIView):
    """The caller's statement in one currency from start to end (both included): the principal
    lent out at the start, every movement (invested, principal, interest, loss, refund), the
    totals per kind, and the closing balance, which is the opening plus every line's amount."""

    permission_classes = [IsInvestor]

    @extend_schema(
        parameters=[
            OpenApiParameter("currency", str, required=True, description="e.g. KES"),
            OpenApiParameter("start", OpenApiTypes.DATE, required=True),
            OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="included"),
        ],
        responses={200: shapes.StatementSerializer, **ERRORS},
    )
    def get(self, request):
        query = _valid(shapes.StatementQuerySerializer, request.query_params)
        statement = selectors.investor_statement(investor=request.user, **query)
        currency = statement.currency
        lines = [{**vars(line), "currency": currency} for line in statement.lines]
        totals = [
            {
                "what": what,
                "amount": sum((line["amount"] for line in lines if line["what"] == what), 0),
                "cash": statement.total(what),
                "currency": currency,
            }
            for what in shapes.STATEMENT_KINDS
        ]
        answer = {
            "currency": currency,
            "start": statement.start,
            "end": statement.end,
            "opening": statement.opening,
            "lines": lines,
            "totals": totals,
            "closing": statement.closing,
        }
        return Response(shapes.StatementSerializer(answer).data)


# --- anyone ----------------------------------------------------------------------------------


class ProjectFundingApi(APIView):
    """How far a project's funding went: its target, what is committed and confirmed, what is
    left, and how many investors committed. No investor is named."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: shapes.ProjectFundingSerializer, 404: ApiErrorSerializer}, auth=[]
    )
    def get(self, request, pk):
        project = project_for_viewer(pk=pk, viewer=request.user)
        if project is None:
            raise Http404("No such project.")
        funding = selectors.project_funding(project)
        return Response(shapes.ProjectFundingSerializer(funding).data)


# --- originator staff ------------------------------------------------------------------------


class StaffProjectCommitmentsApi(ListAPIView):
    """Every commitment to one of the organization's projects, oldest first, with its investor
    (name and e-mail of a local investor; null for one sent from an investor's own node)."""

    permission_classes = [IsOriginatorStaff]
    serializer_class = shapes.StaffCommitmentSerializer

    def get_queryset(self):
        project = selectors.organization_project_funding(
            organization=self.request.user.organization, pk=self.kwargs["pk"]
        )
        if project is None:
            raise Http404("Your organization has no published project with this id.")
        return selectors.project_commitments(project=project)

    @extend_schema(responses={200: shapes.StaffCommitmentSerializer(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _staff_answer(request, pk) -> Response:
    # Read again: confirming the last funds closes the project, which the answer shows.
    return Response(shapes.StaffCommitmentSerializer(_organization_commitment(request, pk)).data)


class StaffCommitmentConfirmApi(APIView):
    """Confirm that the committed funds arrived, with the transfer's reference. When confirmed
    funds reach the target the project is funded and closes. The same reference again changes
    nothing (200); another reference for confirmed funds is refused (400)."""

    permission_classes = [IsOriginatorStaff]

    @extend_schema(
        request=shapes.ReferenceInputSerializer,
        responses={200: shapes.StaffCommitmentSerializer, **ERRORS},
    )
    def post(self, request, pk):
        commitment = _organization_commitment(request, pk)
        data = _valid(shapes.ReferenceInputSerializer, request.data)
        services.commitment_confirm(
            actor=request.user, commitment=commitment, reference=data["reference"]
        )
        return _staff_answer(request, pk)


class StaffCommitmentRefundApi(APIView):
    """Record that the funds of a commitment due back (its project closed unfunded) went back to
    the investor, with the transfer's reference. The same reference again changes nothing."""

    permission_classes = [IsOriginatorStaff]

    @extend_schema(
        request=shapes.ReferenceInputSerializer,
        responses={200: shapes.StaffCommitmentSerializer, **ERRORS},
    )
    def post(self, request, pk):
        commitment = _organization_commitment(request, pk)
        data = _valid(shapes.ReferenceInputSerializer, request.data)
        services.commitment_refund(
            actor=request.user, commitment=commitment, reference=data["reference"]
        )
        return _staff_answer(request, pk)
