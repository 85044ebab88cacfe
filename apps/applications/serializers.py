"""Shapes of the loans API: what comes in (its form is checked here; the rules are the
services') and what goes out. Amounts are decimal strings both ways, never JSON numbers."""

from __future__ import annotations

import re
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.identity.api_credentials import ChallengeSerializer
from apps.projects.models import DURATION_UNITS, money_text

from . import selectors
from .agreement import ROLES
from .models import Agreement, Disbursement, Loan, Rail
from .selectors import QUEUE_FILTERS

MONEY_PATTERN = r"^-?\d+(\.\d+)?$"
MONEY_SCHEMA = {
    "type": "string",
    "format": "decimal",
    "pattern": MONEY_PATTERN,
    "example": "1500.00",
}
MAX_JSON_DEPTH = 32


# --- fields ----------------------------------------------------------------------------------


@extend_schema_field(MONEY_SCHEMA)
class AmountField(serializers.CharField):
    """An amount in: a decimal string such as "1500.00". A JSON number is refused rather than
    read through a float; the currency's decimals and the range are the services' to check."""

    default_error_messages = {
        "number": 'Write the amount as a decimal string, such as "1500.00", not as a JSON number.',
        "format": 'Enter a decimal amount, such as "1500.00".',
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, int | float) and not isinstance(data, bool):
            self.fail("number")
        text = super().to_internal_value(data)
        if not re.fullmatch(MONEY_PATTERN, text):
            self.fail("format")
        return text


@extend_schema_field(MONEY_SCHEMA)
class Money(serializers.Field):
    """An amount out, as its currency writes it: "1500.00" in KES, "1500" in UGX."""

    def __init__(self, attribute: str | None = None, **kwargs):
        self.attribute = attribute
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance):
        value = getattr(instance, self.attribute or self.field_name)
        if value is None:
            return None
        currency = getattr(instance, "currency", None) or instance.loan.currency
        return money_text(Decimal(value), currency)


def json_problem(value: object, limit: int = MAX_JSON_DEPTH) -> str | None:
    """Why VALUE, parsed JSON, cannot be taken: nested deeper than LIMIT, or a string that is
    not valid Unicode text (a lone surrogate). None when it is fine. Iterative: no recursion."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return f"Nested more than {limit} levels deep."
        if isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "Strings must be valid Unicode text."
    return None


class JsonValue(serializers.JSONField):
    """A JSON value of any shape (a presentation envelope), at most 32 levels deep."""

    def to_internal_value(self, data):
        problem = json_problem(data)
        if problem:
            raise serializers.ValidationError(problem)
        return super().to_internal_value(data)


# --- what comes in ---------------------------------------------------------------------------


class ProjectInputSerializer(serializers.Serializer):
    project = serializers.UUIDField()


class ApplyInputSerializer(serializers.Serializer):
    project = serializers.UUIDField()
    amount = AmountField(help_text="in the project's currency, a decimal string")
    duration = serializers.IntegerField(
        min_value=1, max_value=100_000, help_text="repayment periods (days for a bullet loan)"
    )
    purpose = serializers.CharField(max_length=1000)
    consent_version = serializers.CharField(
        max_length=16, help_text="the version of the consent text the borrower accepted"
    )
    presentation = JsonValue(
        required=False,
        allow_null=True,
        default=None,
        help_text="the presentation envelope answering POST /api/loans/challenge/ (null when "
        "the project asks for no credentials)",
    )


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class OptionalReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, allow_blank=True, default="")


class QuestionInputSerializer(serializers.Serializer):
    question = serializers.CharField(max_length=4000)


class MessageInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=4000)


class SignInputSerializer(serializers.Serializer):
    """A custodial wallet signs with the borrower's password; a self-custody one sends the
    compact JWS it made over {"agreement": hash, "role": "borrower"}."""

    password = serializers.CharField(
        required=False, trim_whitespace=False, max_length=1024, style={"input_type": "password"}
    )
    signature = serializers.CharField(required=False, max_length=8192)

    def validate(self, attrs):
        if not attrs.get("password") and not attrs.get("signature"):
            raise serializers.ValidationError(
                {"password": ["Give your password (custodial wallet) or your signature."]}
            )
        return attrs


class CodeInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=12)


class PaymentInputSerializer(serializers.Serializer):
    amount = AmountField()
    reference = serializers.CharField(
        max_length=120, help_text="the payment's reference on its rail: the idempotency key"
    )
    rail = serializers.ChoiceField(choices=Rail.choices)
    paid_on = serializers.DateField(help_text="not in the future, not before disbursement")


class DisburseInputSerializer(serializers.Serializer):
    rail = serializers.ChoiceField(choices=Rail.choices)
    reference = serializers.CharField(max_length=120)
    disbursed_on = serializers.DateField(required=False, help_text="today if left out")


class RefundInputSerializer(serializers.Serializer):
    rail = serializers.ChoiceField(choices=Rail.choices)
    reference = serializers.CharField(max_length=120)


class ApprovalLimitInputSerializer(serializers.Serializer):
    currency = serializers.CharField(min_length=3, max_length=3)
    amount = AmountField(allow_null=True, help_text="null removes the limit")


class StaffLoansFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=list(QUEUE_FILTERS), required=False, allow_blank=True)
    project = serializers.UUIDField(required=False)
    search = serializers.CharField(max_length=100, required=False, allow_blank=True)


# --- what goes out ---------------------------------------------------------------------------


class ChallengeAnswerSerializer(serializers.Serializer):
    credentials_required = serializers.BooleanField(
        help_text="false: the project asks for no credentials; apply with presentation null"
    )
    challenge = ChallengeSerializer(allow_null=True)


class ProjectRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class LoanSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    public_id = serializers.UUIDField(help_text="the pseudonymous id in the public loan book")
    project = ProjectRefSerializer()
    organization = serializers.CharField(source="organization.name")
    status = serializers.CharField(
        help_text="submitted, approved, active, overpaid, closed, written_off, rejected or "
        "withdrawn"
    )
    awaiting = serializers.CharField(help_text='"borrower", "staff" or ""')
    currency = serializers.CharField()
    amount = Money()
    duration = serializers.IntegerField()
    duration_unit = serializers.SerializerMethodField()
    purpose = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    disbursed_on = serializers.DateField(allow_null=True)
    closed_on = serializers.DateField(allow_null=True)
    days_past_due = serializers.IntegerField()
    arrears_bucket = serializers.CharField()

    def get_duration_unit(self, loan: Loan) -> str:
        return DURATION_UNITS[loan.project.repayment_frequency]


class InstallmentSerializer(serializers.Serializer):
    number = serializers.IntegerField(help_text="0: the disbursement fee")
    due_on = serializers.DateField()
    principal = Money()
    interest = Money()
    fee = Money()
    total_due = Money()
    paid_principal = Money()
    paid_interest = Money()
    paid_fee = Money()
    outstanding = Money()
    paid_off_on = serializers.DateField(allow_null=True)


class RepaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    loan = serializers.IntegerField(source="loan_id")
    reference = serializers.CharField()
    rail = serializers.CharField()
    amount = Money()
    paid_on = serializers.DateField()
    status = serializers.CharField(help_text="reported, applied or rejected")
    principal = Money()
    interest = Money()
    fee = Money()
    overpaid = Money()
    rejection_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    applied_at = serializers.DateTimeField(allow_null=True)


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.CharField(source="author.full_name")
    from_staff = serializers.BooleanField()
    body = serializers.CharField()
    at = serializers.DateTimeField()


class SignatureStateSerializer(serializers.Serializer):
    role = serializers.CharField()
    did = serializers.CharField()
    signed = serializers.BooleanField()
    signed_at = serializers.DateTimeField(allow_null=True)


class AgreementSerializer(serializers.Serializer):
    hash = serializers.CharField(help_text="SHA-256 of the canonical document, hex")
    document = serializers.JSONField()
    fully_signed = serializers.BooleanField()
    signatures = serializers.SerializerMethodField()

    @extend_schema_field(SignatureStateSerializer(many=True))
    def get_signatures(self, agreement: Agreement) -> list[dict]:
        states = [
            {
                "role": role,
                "did": getattr(agreement, f"{role}_did"),
                "signed": bool(getattr(agreement, f"{role}_signature")),
                "signed_at": getattr(agreement, f"{role}_signed_at"),
            }
            for role in ROLES
        ]
        return SignatureStateSerializer(states, many=True).data


class AgreementFileSerializer(AgreementSerializer):
    signed_file = serializers.SerializerMethodField(
        help_text="what POST /api/agreements/verify/ checks: {document, hash, signatures}"
    )

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_signed_file(self, agreement: Agreement) -> dict:
        return agreement.signed_file()


class DisbursementSerializer(serializers.Serializer):
    rail = serializers.CharField()
    reference = serializers.CharField()
    disbursed_on = serializers.DateField()
    confirmed_at = serializers.DateTimeField(
        allow_null=True, help_text="when the borrower confirmed receipt with the code"
    )


def _one(loan: Loan, name: str):
    try:
        return getattr(loan, name)
    except ObjectDoesNotExist:
        return None


class LoanDetailSerializer(LoanSerializer):
    """One loan as its borrower sees it."""

    decision_reason = serializers.CharField()
    principal_repaid = Money()
    interest_repaid = Money()
    fees_repaid = Money()
    overpaid = Money(help_text="paid beyond what was owed: refunded to the borrower")
    written_off_amount = Money()
    outstanding = serializers.SerializerMethodField()
    schedule = InstallmentSerializer(
        many=True, source="installments.all", help_text="empty until the loan is disbursed"
    )
    repayments = RepaymentSerializer(many=True, source="repayments.all")
    messages = MessageSerializer(many=True, source="messages.all")
    agreement = serializers.SerializerMethodField()
    disbursement = serializers.SerializerMethodField()

    @extend_schema_field(MONEY_SCHEMA)
    def get_outstanding(self, loan: Loan) -> str:
        return loan.money(selectors.outstanding_total(loan=loan))

    @extend_schema_field(AgreementSerializer(allow_null=True))
    def get_agreement(self, loan: Loan) -> dict | None:
        agreement = _one(loan, "agreement")
        return AgreementSerializer(agreement).data if agreement else None

    @extend_schema_field(DisbursementSerializer(allow_null=True))
    def get_disbursement(self, loan: Loan) -> dict | None:
        disbursement: Disbursement | None = _one(loan, "disbursement")
        return DisbursementSerializer(disbursement).data if disbursement else None


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()
    email = serializers.EmailField()


class EligibilityResultSerializer(serializers.Serializer):
    rule = serializers.IntegerField()
    credential = serializers.CharField()
    claim = serializers.CharField()
    status = serializers.CharField(help_text="met, not_met or missing")
    reason = serializers.CharField()


class VerifiedPresentationSerializer(serializers.Serializer):
    holder_did = serializers.CharField()
    issuers = serializers.ListField(child=serializers.CharField())
    disclosed = serializers.DictField(
        help_text="the verified claims, only those the criteria read: {type: {claim: value}}"
    )
    verified_at = serializers.DateTimeField()


class EventSerializer(serializers.Serializer):
    actor = serializers.CharField(source="actor.full_name", allow_null=True, default=None)
    action = serializers.CharField()
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    changes = serializers.DictField()
    at = serializers.DateTimeField()


class StaffLoanDetailSerializer(LoanDetailSerializer):
    """One application or loan as the originator's staff see it: who applied, the verified
    claims and how they met the criteria, the approvals and the audit trail."""

    borrower = PersonSerializer()
    needs_second_approval = serializers.BooleanField()
    first_approved_by = serializers.CharField(
        source="first_approved_by.full_name", allow_null=True, default=None
    )
    first_approved_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField(source="decided_by.full_name", allow_null=True, default=None)
    decided_at = serializers.DateTimeField(allow_null=True)
    presentation = VerifiedPresentationSerializer(
        allow_null=True, help_text="null when the project asked for no credentials"
    )
    eligibility = EligibilityResultSerializer(many=True, help_text="rule by rule, at submission")
    events = EventSerializer(many=True, source="events.all", help_text="newest first")


class StaffLoanSerializer(LoanSerializer):
    borrower = PersonSerializer()
    needs_second_approval = serializers.BooleanField()
    first_approved_by = serializers.CharField(
        source="first_approved_by.full_name", allow_null=True, default=None
    )


class ApprovalLimitSerializer(serializers.Serializer):
    currency = serializers.CharField()
    amount = Money(help_text="applications above it need a second staff member's approval")
    updated_by = serializers.CharField(source="updated_by.full_name", allow_null=True, default=None)
    updated_at = serializers.DateTimeField()


class SignatureCheckSerializer(serializers.Serializer):
    role = serializers.CharField(help_text="originator, and borrower or investor")
    did = serializers.CharField()
    valid = serializers.BooleanField()
    reason = serializers.CharField(help_text='why it is not valid ("not signed" when missing)')


class VerifiedAgreementSerializer(serializers.Serializer):
    format = serializers.CharField(help_text="growr/loan-agreement or growr/investment-agreement")
    hash = serializers.CharField()
    fully_signed = serializers.BooleanField()
    signatures = SignatureCheckSerializer(many=True)
