"""Reads of funding: the network's projects as this node holds them, a project's funding
progress, an investor's positions with their expected and actual cash flows, and statements."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from apps.applications.models import Installment, LoanStatus
from apps.discovery.models import Peer
from apps.identity.models import Organization, User
from apps.ledger.models import Book, BookKey
from apps.ledger.selectors import (
    PublishedProject,
    latest_entries,
    log_by_key,
    published_project,
    published_projects,
)
from apps.projects.models import Project, ProjectStatus, money_text
from apps.projects.schedule import minor_units
from apps.projects.selectors import VISIBLE
from apps.projects.templatetags.project_tags import money

from . import returns
from .models import COUNTED, Commitment, CommitmentStatus, Distribution, RemoteCommitment

CATALOGUE_PAGE = 25


@dataclass(frozen=True)
class CatalogueProject:
    project: PublishedProject
    origin_name: str
    origin_url: str
    record_url: str
    page_url: str  # the project's page on its origin node


def network_catalogue(*, page: int) -> tuple[list[CatalogueProject], int]:
    """One page of projects from this node's own projects book and every followed one, with
    the node each comes from; four queries whatever the page holds."""
    projects, total = published_projects(offset=(page - 1) * CATALOGUE_PAGE, limit=CATALOGUE_PAGE)
    publishers = {p.publisher for p in projects if p.publisher}
    peers = {bytes(p.node_id): p for p in Peer.objects.filter(node_id__in=publishers)}
    return [_entry(project, peers) for project in projects], total


def _entry(project: PublishedProject, peers: dict) -> CatalogueProject:
    if project.own:
        name, url = settings.GROWR_NODE_NAME, settings.GROWR_PUBLIC_URL
    else:
        peer = peers.get(project.publisher)
        name = peer.name if peer else "a followed node"
        url = peer.url if peer else project.source_url or ""
    base = url.rstrip("/")
    # The entry as its origin serves it, with the proofs anyone can check.
    record = f"{base}/api/books/{project.book_key}/entry/?key={project.entry_key}"
    # Built from the origin's address (signed in its node record) and the project's id, never
    # from a URL inside the entry: a writer cannot point investors elsewhere.
    page = f"{base}/projects/{project_id}/" if (project_id := _uuid(project.value)) else ""
    return CatalogueProject(project, name, url, record if url else "", page if url else "")


def _uuid(value: dict) -> str:
    try:
        return str(uuid.UUID(str(value.get("project"))))
    except ValueError:
        return ""


# --- a project's funding progress -------------------------------------------------------------

PERCENT = Decimal("0.1")


def commitments_open(project: Project, today: date | None = None) -> bool:
    """Whether PROJECT takes commitments today: published and within its dates."""
    today = today or timezone.localdate()
    return project.status == ProjectStatus.PUBLISHED and (
        project.starts_on <= today <= project.ends_on
    )


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    if whole <= 0:
        return Decimal(0)
    return min(part * 100 / whole, Decimal(100)).quantize(PERCENT, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class ProjectFunding:
    """How far a project's target is funded: committed counts pending and confirmed
    commitments, confirmed the funds the originator received."""

    project_id: uuid.UUID
    status: str
    currency: str
    target: Decimal
    committed: Decimal
    confirmed: Decimal
    investors: int
    open: bool  # taking commitments from any investor

    @property
    def left(self) -> Decimal:
        return max(self.target - self.committed, Decimal(0))

    @property
    def committed_percent(self) -> Decimal:
        return _percent(self.committed, self.target)

    @property
    def confirmed_percent(self) -> Decimal:
        return _percent(self.confirmed, self.target)

    def as_json(self) -> dict:
        """The figures as the page's script and the WebSocket receive them: exact amounts as
        strings, and the words the page writes."""
        amounts = {
            "target": self.target,
            "committed": self.committed,
            "confirmed": self.confirmed,
            "left": self.left,
        }
        return {
            "project": str(self.project_id),
            "currency": self.currency,
            **{name: money_text(value, self.currency) for name, value in amounts.items()},
            "investors": self.investors,
            "open": self.open,
            "committed_percent": str(self.committed_percent),
            "confirmed_percent": str(self.confirmed_percent),
            "text": {name: money(value, self.currency) for name, value in amounts.items()},
        }


def project_funding(project: Project) -> ProjectFunding:
    """PROJECT's funding progress, in one query."""
    zero = Value(Decimal(0))
    figures = Commitment.objects.filter(project_id=project.pk, status__in=COUNTED).aggregate(
        committed=Coalesce(Sum("amount"), zero),
        confirmed=Coalesce(Sum("amount", filter=Q(status=CommitmentStatus.CONFIRMED)), zero),
        investors=Count("investor_did", distinct=True),
    )
    return ProjectFunding(
        project_id=project.pk,
        status=project.status,
        currency=project.currency,
        target=project.target_amount,
        committed=figures["committed"],
        confirmed=figures["confirmed"],
        investors=figures["investors"],
        open=commitments_open(project) and not project.invite_only,
    )


def public_project_funding(*, pk) -> ProjectFunding | None:
    """The funding progress of the project PK if anyone may see the project (not a draft); two
    queries."""
    project = (
        Project.objects.filter(pk=pk, status__in=VISIBLE)
        .only("id", "currency", "target_amount", "status", "starts_on", "ends_on", "invite_only")
        .first()
    )
    return project_funding(project) if project is not None else None


def project_commitments_of(*, investor: User, project: Project) -> QuerySet[Commitment]:
    """INVESTOR's commitments to PROJECT, newest first."""
    return Commitment.objects.filter(investor=investor, project_id=project.pk)


# --- positions, returns and statements -------------------------------------------------------

HELD = (CommitmentStatus.CONFIRMED, CommitmentStatus.REFUND_DUE, CommitmentStatus.REFUNDED)


@dataclass(frozen=True)
class Position:
    """One commitment as its investor follows it."""

    commitment: Commitment
    principal_returned: Decimal
    interest_received: Decimal
    losses: Decimal
    flows: tuple[tuple[date, Decimal], ...]
    """Money in (negative) and out (positive) for the investor, dated; an open position ends
    with what it still holds, today."""

    @property
    def outstanding(self) -> Decimal:
        """Principal still lent out (or due back, for a refund)."""
        if self.commitment.status not in (CommitmentStatus.CONFIRMED, CommitmentStatus.REFUND_DUE):
            return Decimal(0)
        return self.commitment.amount - self.principal_returned - self.losses

    @property
    def xirr(self) -> Decimal | None:
        return returns.xirr(self.flows)


def _flows(commitment: Commitment, received: list[tuple[date, Decimal]], left: Decimal,
           today: date) -> tuple[tuple[date, Decimal], ...]:  # fmt: skip
    if commitment.status not in HELD or commitment.confirmed_at is None:
        return ()
    flows = [(timezone.localdate(commitment.confirmed_at), -commitment.amount), *received]
    if commitment.status == CommitmentStatus.REFUNDED and commitment.closed_at:
        flows.append((timezone.localdate(commitment.closed_at), left))
    elif left > 0:
        flows.append((today, left))
    return tuple(flows)


def investor_positions(*, investor: User, today: date | None = None) -> list[Position]:
    """INVESTOR's commitments, newest first, with what each returned, lost and still holds, and
    its cash flows for XIRR. Two queries, whatever the number of commitments."""
    return _positions(
        Commitment.objects.filter(investor=investor),
        Distribution.objects.filter(commitment__investor=investor),
        today or timezone.localdate(),
    )


def investor_position(*, investor: User, pk: int, today: date | None = None) -> Position | None:
    """INVESTOR's commitment PK as a position; None if there is none of hers."""
    found = _positions(
        Commitment.objects.filter(investor=investor, pk=pk),
        Distribution.objects.filter(commitment__investor=investor, commitment_id=pk),
        today or timezone.localdate(),
    )
    return found[0] if found else None


def _positions(
    commitments: QuerySet[Commitment], distributions: QuerySet[Distribution], today: date
) -> list[Position]:
    zero = Value(Decimal(0))
    commitments = list(
        commitments.select_related("project", "project__organization")
        .defer("project__image", "project__description", "project__eligibility")
        .annotate(
            returned=Coalesce(Sum("distributions__principal"), zero),
            received=Coalesce(Sum("distributions__interest"), zero),
            lost=Coalesce(Sum("distributions__loss"), zero),
        )
    )
    rows = (
        distributions.values("commitment_id", "on")
        .annotate(cash=Sum(F("principal") + F("interest")))
        .order_by("on")
    )
    received: dict[int, list[tuple[date, Decimal]]] = {}
    for row in rows:
        if row["cash"]:
            received.setdefault(row["commitment_id"], []).append((row["on"], row["cash"]))
    positions = []
    for c in commitments:
        left = c.amount - c.returned - c.lost
        positions.append(
            Position(
                commitment=c,
                principal_returned=c.returned,
                interest_received=c.received,
                losses=c.lost,
                flows=_flows(c, received.get(c.pk, []), left, today),
            )
        )
    return positions


def _month(day: date) -> date:
    return day.replace(day=1)


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


# Loans whose schedules an investor expects to be paid: being repaid, or repaid.
EXPECTING = (LoanStatus.ACTIVE, LoanStatus.OVERPAID, LoanStatus.CLOSED)


@dataclass(frozen=True)
class MonthFlow:
    """A position's cash in one month: expected by the schedules, and distributed."""

    month: date  # its first day
    expected: Decimal
    actual: Decimal
    to_come: bool  # a month after this one

    @property
    def difference(self) -> Decimal:
        return self.actual - self.expected


def expected_and_actual(
    positions: list[Position], today: date | None = None
) -> dict[int, tuple[MonthFlow, ...]]:
    """For each position held (by commitment id), month by month: the cash expected (its share,
    amount over the project's confirmed total, of the principal and interest due on the
    project's active and closed loans, to the minor unit) and the cash it was distributed
    (principal and interest). Three queries, whatever the number of positions."""
    held = [p.commitment for p in positions if p.commitment.status in HELD]
    if not held:
        return {}
    this_month = _month(today or timezone.localdate())
    projects = {c.project_id for c in held}
    confirmed = dict(
        Commitment.objects.filter(project_id__in=projects, status=CommitmentStatus.CONFIRMED)
        .order_by()
        .values_list("project_id")
        .annotate(total=Sum("amount"))
    )
    due: dict[object, dict[date, Decimal]] = defaultdict(dict)
    for row in (
        Installment.objects.filter(loan__project_id__in=projects, loan__status__in=EXPECTING)
        .annotate(month=TruncMonth("due_on"))
        .order_by()
        .values("loan__project_id", "month")
        .annotate(due=Sum(F("principal") + F("interest")))
    ):
        due[row["loan__project_id"]][row["month"]] = row["due"]
    paid: dict[int, dict[date, Decimal]] = defaultdict(dict)
    for row in (
        Distribution.objects.filter(commitment_id__in=[c.pk for c in held])
        .annotate(month=TruncMonth("on"))
        .order_by()
        .values("commitment_id", "month")
        .annotate(cash=Sum(F("principal") + F("interest")))
    ):
        paid[row["commitment_id"]][row["month"]] = row["cash"]
    flows = {}
    for c in held:
        total = confirmed.get(c.project_id)
        confirmed_here = c.status == CommitmentStatus.CONFIRMED and total
        share = c.amount / total if confirmed_here else Decimal(0)
        unit = Decimal(1).scaleb(-minor_units(c.currency))
        expected = {
            month: (amount * share).quantize(unit, rounding=ROUND_HALF_EVEN)
            for month, amount in due[c.project_id].items()
        }
        actual = paid[c.pk]
        flows[c.pk] = tuple(
            MonthFlow(
                month,
                expected.get(month, Decimal(0)),
                actual.get(month, Decimal(0)),
                to_come=month > this_month,
            )
            for month in sorted(expected.keys() | actual.keys())
        )
    return flows


@dataclass(frozen=True)
class CashHistory:
    """An investor's cash in one currency over time: what went in and what came back (principal,
    interest and refunds), each summed up to the end of every month."""

    currency: str
    months: tuple[date, ...]  # first days, from the month before the first investment to now
    invested: tuple[Decimal, ...]
    received: tuple[Decimal, ...]


def cash_history(
    positions: list[Position], flows: dict[int, tuple[MonthFlow, ...]], today: date | None = None
) -> list[CashHistory]:
    """Per currency, the cumulative cash invested and received month by month, from POSITIONS
    and their FLOWS (expected_and_actual); no query."""
    today = today or timezone.localdate()
    invested: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    received: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for position in positions:
        c = position.commitment
        if c.status not in HELD or c.confirmed_at is None:
            continue
        invested[c.currency][_month(timezone.localdate(c.confirmed_at))] += c.amount
        for flow in flows.get(c.pk, ()):
            if flow.actual:  # months only expected are still to come
                received[c.currency][flow.month] += flow.actual
        if c.status == CommitmentStatus.REFUNDED and c.closed_at:
            received[c.currency][_month(timezone.localdate(c.closed_at))] += c.amount
    histories = []
    for currency in sorted(invested):
        dated = invested[currency].keys() | received[currency].keys()
        # From the month before the first movement, when nothing was invested yet.
        month, last = _add_months(min(dated), -1), max(_month(today), *dated)
        months, cum_in, cum_out = [], [], []
        total_in = total_out = Decimal(0)
        while month <= last:
            total_in += invested[currency].get(month, Decimal(0))
            total_out += received[currency].get(month, Decimal(0))
            months.append(month)
            cum_in.append(total_in)
            cum_out.append(total_out)
            month = _add_months(month, 1)
        histories.append(CashHistory(currency, tuple(months), tuple(cum_in), tuple(cum_out)))
    return histories


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    invested: Decimal
    outstanding: Decimal
    principal_returned: Decimal
    interest_received: Decimal
    losses: Decimal
    xirr: Decimal | None


def portfolio_totals(positions: list[Position]) -> list[CurrencyTotals]:
    """Totals per currency of POSITIONS held (confirmed at some point), with the XIRR of all
    their flows together."""
    by_currency: dict[str, list[Position]] = {}
    for position in positions:
        if position.commitment.status in HELD:
            by_currency.setdefault(position.commitment.currency, []).append(position)
    return [
        CurrencyTotals(
            currency=currency,
            invested=sum((p.commitment.amount for p in held), Decimal(0)),
            outstanding=sum((p.outstanding for p in held), Decimal(0)),
            principal_returned=sum((p.principal_returned for p in held), Decimal(0)),
            interest_received=sum((p.interest_received for p in held), Decimal(0)),
            losses=sum((p.losses for p in held), Decimal(0)),
            xirr=returns.xirr(flow for p in held for flow in p.flows),
        )
        for currency, held in sorted(by_currency.items())
    ]


@dataclass(frozen=True)
class StatementLine:
    on: date
    project: str
    what: str  # invested, principal, interest, loss, refund
    amount: Decimal  # for the balance: + invested, - principal, loss and refund
    cash: Decimal  # for the investor's cash: - invested, + principal, interest and refund


KINDS = ("invested", "interest", "principal", "loss", "refund")  # a payment settles interest first


@dataclass(frozen=True)
class KindTotal:
    what: str
    cash: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Statement:
    currency: str
    start: date
    end: date
    opening: Decimal
    lines: tuple[StatementLine, ...]

    @property
    def closing(self) -> Decimal:
        """Principal lent out at the end: the opening balance and every movement of it."""
        return self.opening + sum((line.amount for line in self.lines), Decimal(0))

    def total(self, what: str) -> Decimal:
        return sum((line.cash for line in self.lines if line.what == what), Decimal(0))

    def totals(self) -> list[KindTotal]:
        """Per kind of movement in the period: its cash and its change of the balance."""
        return [
            KindTotal(
                what,
                self.total(what),
                sum((line.amount for line in self.lines if line.what == what), Decimal(0)),
            )
            for what in KINDS
            if any(line.what == what for line in self.lines)
        ]

    def balances(self) -> list[tuple[StatementLine, Decimal]]:
        """Every line with the balance after it: the last one is the closing balance."""
        balance, rows = self.opening, []
        for line in self.lines:
            balance += line.amount
            rows.append((line, balance))
        return rows


def _movements(investor: User, currency: str) -> list[StatementLine]:
    commitments = Commitment.objects.filter(
        investor=investor, currency=currency, status__in=HELD, confirmed_at__isnull=False
    ).select_related("project")
    lines = []
    for c in commitments:
        name = c.project.name
        lines.append(
            StatementLine(timezone.localdate(c.confirmed_at), name, "invested", c.amount, -c.amount)
        )
        if c.status == CommitmentStatus.REFUNDED and c.closed_at:
            back = c.amount  # nothing was lent out of a refunded commitment
            lines.append(
                StatementLine(timezone.localdate(c.closed_at), name, "refund", -back, back)
            )
    for d in Distribution.objects.filter(
        commitment__investor=investor, commitment__currency=currency
    ).select_related("commitment__project"):
        name = d.commitment.project.name
        for what, value in (("principal", d.principal), ("interest", d.interest)):
            if value:
                balance = -value if what == "principal" else Decimal(0)
                lines.append(StatementLine(d.on, name, what, balance, value))
        if d.loss:
            lines.append(StatementLine(d.on, name, "loss", -d.loss, Decimal(0)))
    return sorted(lines, key=lambda line: (line.on, line.project, KINDS.index(line.what)))


def statement_currencies(*, investor: User) -> list[str]:
    """The currencies INVESTOR has had funds in: those a statement may be asked for."""
    return sorted(
        set(
            Commitment.objects.filter(
                investor=investor, status__in=HELD, confirmed_at__isnull=False
            ).values_list("currency", flat=True)
        )
    )


def investor_statement(*, investor: User, currency: str, start: date, end: date) -> Statement:
    """INVESTOR's movements in CURRENCY from START to END (both included), with the principal
    lent out before and after: the closing balance is the opening one plus every line."""
    lines = _movements(investor, currency)
    opening = sum((line.amount for line in lines if line.on < start), Decimal(0))
    within = tuple(line for line in lines if start <= line.on <= end)
    return Statement(currency=currency, start=start, end=end, opening=opening, lines=within)


# --- commitments to other nodes' projects (investor nodes) ----------------------------------


def network_project(*, book_key: str, project_id) -> CatalogueProject | None:
    """One project of a projects book this node holds, as the catalogue shows it (terms and the
    node it comes from), or None."""
    log = log_by_key(key_hex=book_key)
    if log is None:
        return None
    row = BookKey.objects.filter(log=log, key=f"project:{project_id}", is_deleted=False).first()
    if row is None:
        return None
    project = published_project(row=row)
    publishers = {project.publisher} if project.publisher else set()
    peers = {bytes(p.node_id): p for p in Peer.objects.filter(node_id__in=publishers)}
    return _entry(project, peers)


@dataclass(frozen=True)
class RemotePosition:
    commitment: RemoteCommitment
    status: str
    """The latest event of the commitment in the originator's funding book this node follows
    (committed, confirmed, cancelled, refunded), or what the originator answered."""
    principal_returned: Decimal
    interest_received: Decimal
    losses: Decimal
    flows: tuple[tuple[date, Decimal], ...] = ()
    """Money in and out for the investor, from the day the originator confirmed the funds, with
    what it still holds today; empty until confirmed."""
    origin_name: str = ""
    """The originator's node's name as the network knows it, or "" when this node does not."""

    @property
    def outstanding(self) -> Decimal:
        if self.status != "confirmed":
            return Decimal(0)
        return self.commitment.amount - self.principal_returned - self.losses

    @property
    def xirr(self) -> Decimal | None:
        return returns.xirr(self.flows)


def _remote_flows(commitment: RemoteCommitment, confirmed_at: object, shares: list[dict],
                  left: Decimal, today: date) -> tuple[tuple[date, Decimal], ...]:  # fmt: skip
    try:
        start = datetime.fromisoformat(str(confirmed_at).replace("Z", "+00:00")).date()
        received = [(date.fromisoformat(s["on"]), Decimal(s["principal"]) + Decimal(s["interest"]))
                    for s in shares]  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return ()
    flows = [(start, -commitment.amount), *received]
    if left > 0:
        flows.append((today, left))
    return tuple(flows)


def remote_commitments(
    *, investor: User, only: RemoteCommitment | None = None, today: date | None = None
) -> list[RemotePosition]:
    """INVESTOR's commitments to other nodes' projects (or ONLY that one), with their state and
    their share of every repayment and loss, from the originators' replicated funding books,
    and the originators' nodes' names; four queries."""
    today = today or timezone.localdate()
    commitments = RemoteCommitment.objects.filter(investor=investor)
    commitments = list(commitments.filter(pk=only.pk) if only is not None else commitments)
    names = dict(
        Peer.objects.filter(url__in={c.origin_url for c in commitments}).values_list("url", "name")
    )
    entries = latest_entries(
        book=Book.FUNDING,
        log_keys={bytes(c.funding_book_key) for c in commitments if c.funding_book_key},
        keys=[f"commitment:{c.commitment_id}" for c in commitments],
        prefixes=[f"distribution:{c.commitment_id}:" for c in commitments],
    )
    shares_of: dict[tuple[bytes, str], list[dict]] = {}
    for (book, key), entry in entries.items():
        if key.startswith("distribution:") and isinstance(entry.get("value"), dict):
            shares_of.setdefault((book, key.split(":")[1]), []).append(entry["value"])
    positions = []
    for commitment in commitments:
        # Only the originator's own funding book speaks for the commitment.
        book = bytes(commitment.funding_book_key)
        entry = entries.get((book, f"commitment:{commitment.commitment_id}"))
        value = entry["value"] if entry else None
        event = value.get("event") if isinstance(value, dict) else None
        shares = shares_of.get((book, str(commitment.commitment_id)), [])
        returned = sum((Decimal(s["principal"]) for s in shares), Decimal(0))
        lost = sum((Decimal(s["loss"]) for s in shares), Decimal(0))
        confirmed = event == "confirmed"
        positions.append(
            RemotePosition(
                commitment=commitment,
                status=event or commitment.answered_status,
                principal_returned=returned,
                interest_received=sum((Decimal(s["interest"]) for s in shares), Decimal(0)),
                losses=lost,
                flows=_remote_flows(
                    commitment, value.get("at"), shares, commitment.amount - returned - lost,
                    today,
                ) if confirmed else (),
                origin_name=names.get(commitment.origin_url, ""),
            )
        )  # fmt: skip
    return positions


# --- the originator's side: its projects' funding, commitments to confirm or refund ----------

FUNDING_VISIBLE = (ProjectStatus.PUBLISHED, ProjectStatus.PAUSED, ProjectStatus.CLOSED)
_PROJECT_TEXT = ("image", "description", "eligibility")


def _figures() -> dict:
    """A project's funding figures, as annotations over its commitments (one join)."""
    zero = Value(Decimal(0))
    counted = Q(commitments__status__in=COUNTED)
    return {
        "committed": Coalesce(Sum("commitments__amount", filter=counted), zero),
        "confirmed": Coalesce(
            Sum("commitments__amount", filter=Q(commitments__status=CommitmentStatus.CONFIRMED)),
            zero,
        ),
        "investors": Count("commitments__investor_did", filter=counted, distinct=True),
        "pending": Count(
            "commitments", filter=Q(commitments__status=CommitmentStatus.PENDING), distinct=True
        ),
        "refunds_due": Count(
            "commitments", filter=Q(commitments__status=CommitmentStatus.REFUND_DUE), distinct=True
        ),
    }


def organization_funding(*, organization: Organization) -> QuerySet[Project]:
    """ORGANIZATION's published, paused and closed projects, newest first, each annotated with
    committed (pending and confirmed), confirmed, investors (with a commitment that counts),
    pending and refunds_due (numbers of commitments). One query."""
    return (
        Project.objects.filter(organization=organization, status__in=FUNDING_VISIBLE)
        .defer(*_PROJECT_TEXT)
        .annotate(**_figures())
        .order_by("-published_at", "pk")
    )


def organization_project_funding(*, organization: Organization, pk) -> Project | None:
    """One of ORGANIZATION's projects as organization_funding annotates it; None for another
    organization's project or a draft."""
    return organization_funding(organization=organization).filter(pk=pk).first()


def _commitments() -> QuerySet[Commitment]:
    return Commitment.objects.select_related(
        "project", "project__organization", "investor", "confirmed_by"
    ).defer(*(f"project__{name}" for name in _PROJECT_TEXT))


def project_commitments(*, project: Project) -> QuerySet[Commitment]:
    """Every commitment to PROJECT, oldest first, with its investor (None for one made from an
    investor's own node) and who confirmed it."""
    return _commitments().filter(project=project).order_by("created_at", "pk")


def pending_commitments(*, organization: Organization) -> QuerySet[Commitment]:
    """Commitments to ORGANIZATION's projects whose funds staff have not confirmed yet, oldest
    first."""
    return (
        _commitments()
        .filter(project__organization=organization, status=CommitmentStatus.PENDING)
        .order_by("created_at", "pk")
    )


def refunds_due(*, organization: Organization) -> QuerySet[Commitment]:
    """Confirmed commitments to ORGANIZATION's projects that closed unfunded: the money goes
    back to the investor. Oldest first."""
    return (
        _commitments()
        .filter(project__organization=organization, status=CommitmentStatus.REFUND_DUE)
        .order_by("closed_at", "pk")
    )


def funding_counts(*, organization: Organization) -> dict[str, int]:
    """How many commitments to ORGANIZATION's projects wait for staff: funds to confirm and
    refunds due (one query)."""
    return Commitment.objects.filter(project__organization=organization).aggregate(
        to_confirm=Count("pk", filter=Q(status=CommitmentStatus.PENDING)),
        refunds_due=Count("pk", filter=Q(status=CommitmentStatus.REFUND_DUE)),
    )


def organization_commitment(*, organization: Organization, public_id) -> Commitment | None:
    """A commitment to one of ORGANIZATION's projects, by its public id."""
    return _commitments().filter(project__organization=organization, public_id=public_id).first()


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    what: str  # committed, confirmed, cancelled, refund_due, refunded, project_closed
    commitment: Commitment | None


def funding_timeline(*, project: Project) -> list[TimelineEvent]:
    """Every event of PROJECT's funding, oldest first: each commitment made, confirmed, and
    cancelled, due back or refunded (from its dates), and the project's closing. One query."""
    events = []
    if project.closed_at is not None:
        events.append(TimelineEvent(project.closed_at, "project_closed", None))
    for commitment in project_commitments(project=project):
        events.append(TimelineEvent(commitment.created_at, "committed", commitment))
        if commitment.confirmed_at is not None:
            events.append(TimelineEvent(commitment.confirmed_at, "confirmed", commitment))
        if commitment.closed_at is not None and commitment.status in CLOSING_EVENTS:
            events.append(
                TimelineEvent(commitment.closed_at, CLOSING_EVENTS[commitment.status], commitment)
            )
    order = {"committed": 0, "confirmed": 1, "project_closed": 2}
    return sorted(events, key=lambda event: (event.at, order.get(event.what, 3)))


CLOSING_EVENTS = {
    CommitmentStatus.CANCELLED: "cancelled",
    CommitmentStatus.REFUND_DUE: "refund_due",
    CommitmentStatus.REFUNDED: "refunded",
}


# --- an investor's own commitments -----------------------------------------------------------


def investor_commitments(*, investor: User) -> QuerySet[Commitment]:
    """INVESTOR's commitments, newest first."""
    return _commitments().filter(investor=investor).order_by("-created_at", "-pk")


def investor_commitment(*, investor: User, public_id) -> Commitment | None:
    return investor_commitments(investor=investor).filter(public_id=public_id).first()
