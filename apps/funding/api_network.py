"""API for an investor on this node to fund other nodes' projects: the network's projects this
node holds (its own projects book and every followed one), commitments sent from here to their
originators, and each one's state and share of repayments from the followed funding books."""

from __future__ import annotations

import math

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.node.api_fields import QueryInteger

from . import selectors, services
from .api import ERRORS, IsInvestor, _valid
from .models import RemoteCommitment
from .serializers import CommitInputSerializer, Money, Rate


class NetworkProjectSerializer(serializers.Serializer):
    book = serializers.CharField(source="project.book_key", help_text="the projects book's key")
    id = serializers.SerializerMethodField()
    name = serializers.SerializerMethodField()
    terms = serializers.SerializerMethodField()
    own = serializers.BooleanField(source="project.own", help_text="published by this node")
    origin_name = serializers.CharField()
    origin_url = serializers.CharField()
    record_url = serializers.CharField(help_text="the signed entry, with proofs, at its origin")

    def get_id(self, item) -> str:
        return str(item.project.value.get("project", ""))

    def get_name(self, item) -> str:
        return str(self.get_terms(item).get("name", ""))

    def get_terms(self, item) -> dict:
        terms = item.project.value.get("terms")
        return terms if isinstance(terms, dict) else {}


class NetworkProjectsPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    pages = serializers.IntegerField()
    page = serializers.IntegerField()
    results = NetworkProjectSerializer(many=True)


class PageInput(serializers.Serializer):
    page = QueryInteger(min_value=1, max_value=100_000, default=1)


class NetworkProjectsApi(APIView):
    """The projects of every projects book this node holds, newest first, 25 a page, with the
    node each comes from."""

    permission_classes = [IsInvestor]

    @extend_schema(
        parameters=[OpenApiParameter("page", int, required=False)],
        responses={200: NetworkProjectsPageSerializer, **ERRORS},
    )
    def get(self, request):
        page = _valid(PageInput, request.query_params)["page"]
        projects, total = selectors.network_catalogue(page=page)
        answer = {
            "count": total,
            "pages": max(math.ceil(total / selectors.CATALOGUE_PAGE), 1),
            "page": page,
            "results": projects,
        }
        return Response(NetworkProjectsPageSerializer(answer).data)


class NetworkCommitmentInput(CommitInputSerializer):
    book = serializers.RegexField(
        r"^[0-9a-f]{64}$", help_text="the key of the projects book that holds the project"
    )


class NetworkPositionSerializer(serializers.Serializer):
    commitment = serializers.UUIDField(source="commitment.commitment_id")
    project = serializers.UUIDField(source="commitment.project_id")
    project_name = serializers.CharField(source="commitment.project_name")
    origin_url = serializers.CharField(source="commitment.origin_url")
    origin_name = serializers.CharField(
        help_text="the originator's node's name as the network knows it, or empty"
    )
    request_id = serializers.CharField(source="commitment.request_id")
    currency = serializers.CharField(source="commitment.currency")
    amount = Money(source="commitment.amount", currency="commitment.currency")
    status = serializers.CharField(
        help_text="its latest event in the originator's funding book, or what it answered"
    )
    principal_returned = Money(currency="commitment.currency")
    interest_received = Money(currency="commitment.currency")
    losses = Money(currency="commitment.currency")
    outstanding = Money(currency="commitment.currency")
    xirr = Rate()


class NetworkCommitmentsApi(APIView):
    """GET: the caller's commitments to other nodes' projects with their state and returns.
    POST: commit to one, signed here with the caller's key and sent to its originator's node,
    which checks it as its own (201; 200 for a request id sent before)."""

    permission_classes = [IsInvestor]

    @extend_schema(responses={200: NetworkPositionSerializer(many=True), **ERRORS})
    def get(self, request):
        positions = selectors.remote_commitments(investor=request.user)
        return Response(NetworkPositionSerializer(positions, many=True).data)

    @extend_schema(
        request=NetworkCommitmentInput,
        responses={201: NetworkPositionSerializer, 200: NetworkPositionSerializer, **ERRORS},
    )
    def post(self, request):
        data = _valid(NetworkCommitmentInput, request.data)
        sent_before = RemoteCommitment.objects.filter(
            investor=request.user, request_id=data["request_id"]
        ).exists()
        sent = services.remote_commitment_send(
            investor=request.user,
            book_key=data["book"],
            project_id=data["project"],
            amount=data["amount"],
            request_id=data["request_id"],
        )
        [position] = selectors.remote_commitments(investor=request.user, only=sent)
        return Response(
            NetworkPositionSerializer(position).data,
            status=status.HTTP_200_OK if sent_before else status.HTTP_201_CREATED,
        )
