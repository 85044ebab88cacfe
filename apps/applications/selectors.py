"""Reads for applications and loans: queues, a borrower's loans, one loan's page, portfolio
figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from apps.identity.models import Organization, User
from apps.node.cache import generation, kept_at_version
from apps.projects import eligibility
from apps.projects.models import Project
from apps.projects.selectors import borrower_claims

from .models import (
    OPEN_STATUSES,
    WAITING,
    Agreement,
    ApprovalLimit,
    Disbursement,
    Installment,
    Loan,
    LoanStatus,
    Repayment,
)

QUEUE_FILTERS = {
    "": "All",
    "to_review": "To review",
    "second_approval": "Waiting for a second approval",
    "awaiting_borrower": "Waiting for the borrower",
    "to_sign": "Approved, waiting for the borrower's signature",
    "to_disburse": "Signed, to disburse",
    "active": "Active",
    "in_arrears": "In arrears",
    "closed": "Closed",
    "refused": "Rejected or withdrawn",
}


def presentation_request_for(*, project: Project, holder: User) -> dict[str, list[str]] | None:
    """What HOLDER is asked to present for PROJECT: the claims its rules read, for the credential
    types every eligible borrower holds and those of the alternatives HOLDER holds (an "any"
    group is met by one of them). None when the project asks for nothing."""
    if not project.eligibility:
        return None
    wanted = eligibility.presentation_request(project.eligibility)
    required = set(eligibility.required_credentials(project.eligibility))
    held, _ = borrower_claims(holder=holder)
    return {slug: claims for slug, claims in wanted.items() if slug in required or slug in held}


def organization_loans(
    *, organization: Organization, state: str = "", project_id=None, search: str = ""
) -> QuerySet[Loan]:
    """ORGANIZATION's applications and loans, newest first, narrowed to a queue filter."""
    loans = Loan.objects.filter(organization=organization).select_related(
        "project", "borrower", "first_approved_by"
    )
    narrowed = {
        "to_review": Q(status=LoanStatus.SUBMITTED, first_approved_by__isnull=True),
        "second_approval": Q(status=LoanStatus.SUBMITTED, first_approved_by__isnull=False),
        "awaiting_borrower": Q(status=LoanStatus.SUBMITTED, awaiting="borrower"),
        # The loan keeps its agreement's hash from the borrower's signature on (no join).
        "to_sign": Q(status=LoanStatus.APPROVED, agreement_hash=""),
        "to_disburse": Q(status=LoanStatus.APPROVED) & ~Q(agreement_hash=""),
        "active": Q(status__in=[LoanStatus.ACTIVE, LoanStatus.OVERPAID]),
        "in_arrears": Q(status=LoanStatus.ACTIVE, days_past_due__gt=0),
        "closed": Q(status__in=[LoanStatus.CLOSED, LoanStatus.WRITTEN_OFF]),
        "refused": Q(status__in=[LoanStatus.REJECTED, LoanStatus.WITHDRAWN]),
    }.get(state)
    if narrowed is not None:
        loans = loans.filter(narrowed)
    if project_id:
        loans = loans.filter(project_id=project_id)
    if search:
        term = search.strip()
        by_person = Q(borrower__full_name__icontains=term) | Q(borrower__email__icontains=term)
        # isdecimal, not isdigit: int() refuses digits such as "²" that isdigit accepts.
        if term.upper().startswith("L-") and term[2:].isdecimal():
            by_person |= Q(pk=int(term[2:]))
        loans = loans.filter(by_person)
    return loans


def organization_loan(*, organization: Organization, pk: int) -> Loan | None:
    return (
        Loan.objects.filter(organization=organization, pk=pk)
        .select_related("project", "borrower", "presentation", "first_approved_by", "decided_by")
        .first()
    )


def borrower_loans(*, borrower: User) -> QuerySet[Loan]:
    return Loan.objects.filter(borrower=borrower).select_related("project", "organization")


def borrower_loan(*, borrower: User, pk: int) -> Loan | None:
    return borrower_loans(borrower=borrower).filter(pk=pk).first()


def borrower_loans_listed(*, borrower: User) -> QuerySet[Loan]:
    """BORROWER's applications and loans for their list, newest first, each annotated with
    `to_sign` (an agreement waits for their signature). One query."""
    unsigned = Agreement.objects.filter(loan=OuterRef("pk"), borrower_signature="")
    return borrower_loans(borrower=borrower).annotate(to_sign=Exists(unsigned))


def borrower_open_loan(*, borrower: User, project: Project) -> Loan | None:
    """BORROWER's open application or loan under PROJECT (there is at most one)."""
    return Loan.objects.filter(borrower=borrower, project=project, status__in=OPEN_STATUSES).first()


def borrower_active_loans(*, borrower: User) -> list[Loan]:
    """BORROWER's loans being repaid, oldest first."""
    return list(
        borrower_loans(borrower=borrower)
        .filter(status__in=[LoanStatus.ACTIVE, LoanStatus.OVERPAID])
        .order_by("disbursed_on", "pk")
    )


def borrower_agreements(*, borrower: User) -> QuerySet[Agreement]:
    """The agreements of BORROWER's loans, newest first, without their documents."""
    return (
        Agreement.objects.filter(loan__borrower=borrower)
        .select_related("loan", "loan__project")
        .defer("document")
        .order_by("-created_at", "-pk")
    )


def loan_disbursement(*, loan: Loan) -> Disbursement | None:
    return Disbursement.objects.filter(loan=loan).first()


def loan_events(*, loan: Loan):
    return loan.events.select_related("actor")


def loan_messages(*, loan: Loan):
    return loan.messages.select_related("author")


def loan_installments(*, loan: Loan) -> list[Installment]:
    return list(loan.installments.all())


def loan_repayments(*, loan: Loan) -> QuerySet[Repayment]:
    return loan.repayments.select_related("recorded_by", "reported_by")


def loan_agreement(*, loan: Loan) -> Agreement | None:
    return Agreement.objects.filter(loan=loan).first()


def loan_repayment(*, loan: Loan, pk: int) -> Repayment | None:
    """One payment towards LOAN, or None when there is none with PK on this loan."""
    return loan_repayments(loan=loan).filter(pk=pk).first()


def outstanding_total(*, loan: Loan) -> Decimal:
    total = loan.installments.aggregate(
        due=Sum(F("principal") + F("interest") + F("fee")),
        paid=Sum(F("paid_principal") + F("paid_interest") + F("paid_fee")),
    )
    return (total["due"] or Decimal(0)) - (total["paid"] or Decimal(0))


def next_installment(*, loan: Loan) -> Installment | None:
    return loan.installments.filter(paid_off_on__isnull=True).order_by("number").first()


def pending_repayments(*, organization: Organization) -> QuerySet[Repayment]:
    return Repayment.objects.filter(
        loan__organization=organization, status=Repayment.Status.REPORTED
    ).select_related("loan", "loan__borrower", "reported_by")


def approval_limits(*, organization: Organization) -> QuerySet[ApprovalLimit]:
    return ApprovalLimit.objects.filter(organization=organization).select_related("updated_by")


def approval_limit_for(*, organization_id: int, currency: str) -> Decimal | None:
    return (
        ApprovalLimit.objects.filter(organization_id=organization_id, currency=currency)
        .values_list("amount", flat=True)
        .first()
    )


Kept = TypeVar("Kept")

# A staff page's part is kept this long at most: its generation moves on with every change saved
# through the models (receivers.staff_pages_changed), and the bound covers what changes around
# them: an invitation that expires, a row written with update(), a borrower's new name.
STAFF_PAGE_SECONDS = 60
STAFF_GENERATION_SECONDS = 24 * 60 * 60


def staff_generation_key(organization_id: int) -> str:
    return f"staff:generation:{organization_id}"


def staff_generation(*, organization_id: int) -> int:
    """Where ORGANIZATION's staff pages are at: what was kept at another is built again."""
    return generation(staff_generation_key(organization_id), seconds=STAFF_GENERATION_SECONDS)


def kept_for_organization(
    *, organization: Organization, key: str, build: Callable[[], Kept]
) -> Kept:
    """What BUILD makes of a staff page of ORGANIZATION (KEY names the page and what it shows),
    kept while the node's processes share a cache: a loan, project, commitment, credential,
    staff member or invitation of the organization saved or deleted moves its generation on,
    and every page is built again. Without a shared cache the worker's changes would not reach
    the web processes' generations, so it is built each time (the loans' figures are still
    cached under loans_changed)."""
    if not settings.GROWR_CACHE_SHARED:
        return build()
    return kept_at_version(
        key=f"staff:{organization.pk}:{key}",
        version_key=staff_generation_key(organization.pk),
        version=lambda: staff_generation(organization_id=organization.pk),
        build=build,
        seconds=STAFF_PAGE_SECONDS,
    )


def loans_changed(*, organization: Organization) -> str:
    """When ORGANIZATION's loans last changed, for the keys of cached figures: every change
    they show saves the loan with a new updated_at. One query, on the loan_changed index."""
    changed = Loan.objects.filter(organization=organization).aggregate(at=Max("updated_at"))["at"]
    return changed.isoformat() if changed else "never"


def queue_counts(*, organization: Organization) -> dict[str, int]:
    """How many of ORGANIZATION's applications wait in each queue that needs someone (one
    query, on the loan_waiting index alone)."""
    # Counting the status, not the ids: every column read is in the index.
    return Loan.objects.filter(WAITING, organization=organization).aggregate(
        to_review=Count("status", filter=Q(status=LoanStatus.SUBMITTED, first_approved_by=None)),
        second_approval=Count(
            "status", filter=Q(status=LoanStatus.SUBMITTED, first_approved_by__isnull=False)
        ),
        to_disburse=Count("status", filter=Q(status=LoanStatus.APPROVED) & ~Q(agreement_hash="")),
        in_arrears=Count("status", filter=Q(status=LoanStatus.ACTIVE, days_past_due__gt=0)),
    )


@dataclass(frozen=True)
class CurrencyPortfolio:
    currency: str
    disbursed: Decimal
    repaid: Decimal
    outstanding_principal: Decimal
    par30: Decimal
    due_this_week: Decimal
    active_loans: int
    buckets: dict[str, Decimal]

    @property
    def par30_percent(self) -> Decimal:
        if not self.outstanding_principal:
            return Decimal(0)
        return (self.par30 * 100 / self.outstanding_principal).quantize(Decimal("0.1"))


def portfolio(*, organization: Organization, today: date | None = None) -> list[CurrencyPortfolio]:
    """Portfolio figures per currency: disbursed, repaid, outstanding principal, portfolio at
    risk over 30 days, what is owed by a week from today (late installments included), and
    outstanding principal by arrears bucket. Three queries, whatever the number of loans (they
    sum up every loan: the dashboard caches what it shows of them, see loans_changed)."""
    today = today or timezone.localdate()
    booked = Loan.objects.filter(organization=organization, disbursed_on__isnull=False)
    principal_left = F("amount") - F("principal_repaid")
    live = [LoanStatus.ACTIVE, LoanStatus.OVERPAID]
    rows = (
        booked.order_by()
        .values("currency", "arrears_bucket")
        .annotate(
            disbursed=Sum("amount"),
            repaid=Sum(F("principal_repaid") + F("interest_repaid") + F("fees_repaid")),
            outstanding=Sum(principal_left, filter=Q(status__in=live)),
            active=Count("pk", filter=Q(status__in=live)),
        )
    )
    due = (
        Installment.objects.filter(
            loan__organization=organization,
            loan__status=LoanStatus.ACTIVE,
            paid_off_on__isnull=True,
            due_on__lte=today + timedelta(days=7),
        )
        .order_by()
        .values("loan__currency")
        .annotate(
            owed=Sum(
                F("principal") + F("interest") + F("fee")
                - F("paid_principal") - F("paid_interest") - F("paid_fee")
            )
        )
    )  # fmt: skip
    due_by_currency = {row["loan__currency"]: row["owed"] or Decimal(0) for row in due}
    figures: dict[str, dict] = {}
    for row in rows:
        entry = figures.setdefault(
            row["currency"],
            {"disbursed": Decimal(0), "repaid": Decimal(0), "outstanding": Decimal(0),
             "par30": Decimal(0), "active": 0, "buckets": {}},
        )  # fmt: skip
        outstanding = row["outstanding"] or Decimal(0)
        entry["disbursed"] += row["disbursed"] or 0
        entry["repaid"] += row["repaid"] or 0
        entry["outstanding"] += outstanding
        entry["active"] += row["active"]
        entry["buckets"][row["arrears_bucket"]] = (
            entry["buckets"].get(row["arrears_bucket"], Decimal(0)) + outstanding
        )
        if row["arrears_bucket"] in ("31-60", "61-90", "90+"):
            entry["par30"] += outstanding
    return [
        CurrencyPortfolio(
            currency=currency,
            disbursed=entry["disbursed"],
            repaid=entry["repaid"],
            outstanding_principal=entry["outstanding"],
            par30=entry["par30"],
            due_this_week=due_by_currency.get(currency, Decimal(0)),
            active_loans=entry["active"],
            buckets=entry["buckets"],
        )
        for currency, entry in sorted(figures.items())
    ]


def organization_repayment(*, organization: Organization, pk: int) -> Repayment | None:
    return (
        Repayment.objects.filter(loan__organization=organization, pk=pk)
        .select_related("loan")
        .first()
    )
