"""Shapes of the funding API: what comes in (its form is checked here; the rules are the
services') and what goes out. Amounts are decimal strings both ways, never JSON numbers."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import get_attribute

from apps.applications.serializers import MONEY_SCHEMA, AmountField
from apps.projects.models import money_text
from apps.projects.schedule import UnknownCurrency, minor_units

from .models import CommitmentStatus

RATE_SCHEMA = {
    "type": "string",
    "format": "decimal",
    "pattern": r"^-?\d+(\.\d+)?$",
    "nullable": True,
    "example": "0.1842",
    "description": "XIRR, the annual effective rate as a ratio (0.1842 is 18.42 %); null when "
    "it is not defined yet (no money back, or nothing invested)",
}
STATUS_HELP = "; ".join(f"{value}: {label}" for value, label in CommitmentStatus.choices)
STATEMENT_KINDS = ("invested", "principal", "interest", "loss", "refund")


# --- fields ----------------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """Text that must come as a JSON string: a number is refused, not turned into text."""

    default_error_messages = {"not_a_string": "Write this as a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


@extend_schema_field(MONEY_SCHEMA)
class Money(serializers.Field):
    """An amount out, as its currency writes it ("1500.00" in KES, "1500" in UGX); the currency
    is the object's (or mapping's) attribute at CURRENCY, a dotted path."""

    def __init__(self, *, currency: str = "currency", **kwargs):
        self.currency_path = currency.split(".")
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance):
        return super().get_attribute(instance), get_attribute(instance, self.currency_path)

    def to_representation(self, value):
        amount, currency = value
        return None if amount is None else money_text(Decimal(amount), currency)


@extend_schema_field(RATE_SCHEMA)
class Rate(serializers.Field):
    """A rate out: a decimal string, or null (DRF writes null for None itself)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        return str(value)


# --- what comes in ---------------------------------------------------------------------------


class CommitInputSerializer(serializers.Serializer):
    project = serializers.UUIDField(help_text="the project's id")
    amount = AmountField(help_text="in the project's currency, a decimal string")
    request_id = StrictCharField(
        min_length=8,
        max_length=64,
        help_text="chosen by the client for each new commitment, 8 to 64 letters, digits, - or "
        "_: the idempotency key. The same request_id again is the same commitment (200).",
    )


class ReferenceInputSerializer(serializers.Serializer):
    reference = StrictCharField(
        max_length=120, help_text="of the transfer, as the bank or mobile money statement shows it"
    )


class StatementQuerySerializer(serializers.Serializer):
    currency = serializers.CharField(min_length=3, max_length=3)
    start = serializers.DateField(help_text="first day of the period")
    end = serializers.DateField(help_text="last day of the period (included)")

    def validate_currency(self, value: str) -> str:
        try:
            minor_units(value)
        except UnknownCurrency as exc:
            raise serializers.ValidationError(
                "Give an ISO 4217 currency code in capitals, such as KES."
            ) from exc
        return value

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["The end comes before the start."]})
        return attrs


# --- what goes out ---------------------------------------------------------------------------


class FundedProjectSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    organization = serializers.CharField(source="organization.name")
    status = serializers.CharField()


class CommitmentSerializer(serializers.Serializer):
    """A commitment as its investor sees it."""

    id = serializers.UUIDField(source="public_id")
    project = FundedProjectSerializer()
    currency = serializers.CharField()
    amount = Money()
    status = serializers.CharField(help_text=STATUS_HELP)
    request_id = serializers.CharField()
    pseudonym = serializers.CharField(
        help_text="the investor's name in the public funding book, for this project only"
    )
    created_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    payment_reference = serializers.CharField()
    closed_at = serializers.DateTimeField(
        allow_null=True, help_text="when it was cancelled, became due back, or was refunded"
    )
    refund_reference = serializers.CharField()


class InvestorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    email = serializers.EmailField()


class StaffCommitmentSerializer(CommitmentSerializer):
    """A commitment as the originator's staff see it: who committed, when local."""

    investor = InvestorSerializer(
        allow_null=True, help_text="null for a commitment sent from an investor's own node"
    )
    investor_did = serializers.CharField()
    confirmed_by = serializers.CharField(
        source="confirmed_by.full_name", allow_null=True, default=None
    )


class ProjectFundingSerializer(serializers.Serializer):
    """Where a project's funding stands; no investor is named."""

    project = serializers.UUIDField(source="project_id")
    status = serializers.CharField()
    currency = serializers.CharField()
    target = Money()
    committed = Money(help_text="pending and confirmed commitments")
    confirmed = Money(help_text="funds the originator received")
    left = Money(help_text="what may still be committed")
    investors = serializers.IntegerField(help_text="investors with a commitment that counts")


class PositionSerializer(serializers.Serializer):
    commitment = serializers.UUIDField(source="commitment.public_id")
    project = FundedProjectSerializer(source="commitment.project")
    currency = serializers.CharField(source="commitment.currency")
    amount = Money(source="commitment.amount", currency="commitment.currency")
    status = serializers.CharField(source="commitment.status", help_text=STATUS_HELP)
    principal_returned = Money(currency="commitment.currency")
    interest_received = Money(currency="commitment.currency")
    losses = Money(currency="commitment.currency")
    outstanding = Money(
        currency="commitment.currency", help_text="principal still lent out, or due back"
    )
    xirr = Rate()


class CurrencyTotalsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    invested = Money()
    outstanding = Money()
    principal_returned = Money()
    interest_received = Money()
    losses = Money()
    xirr = Rate()


class PortfolioSerializer(serializers.Serializer):
    positions = PositionSerializer(many=True, help_text="every commitment, newest first")
    totals = CurrencyTotalsSerializer(
        many=True, help_text="per currency, of the positions whose funds were received"
    )


class StatementLineSerializer(serializers.Serializer):
    on = serializers.DateField()
    project = serializers.CharField()
    what = serializers.ChoiceField(choices=STATEMENT_KINDS)
    amount = Money(
        help_text="the movement of the principal lent out: + invested; - principal, loss, refund",
    )
    cash = Money(
        help_text="the investor's cash: - invested; + principal, interest and refund",
    )


class StatementTotalSerializer(serializers.Serializer):
    what = serializers.ChoiceField(choices=STATEMENT_KINDS)
    amount = Money()
    cash = Money()


class StatementSerializer(serializers.Serializer):
    currency = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    opening = Money(help_text="principal lent out at the start")
    lines = StatementLineSerializer(many=True)
    totals = StatementTotalSerializer(many=True, help_text="the lines summed, per kind")
    closing = Money(help_text="the opening balance plus every line's amount")
