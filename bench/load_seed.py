"""The load benchmark's node (bench/bench_load.py): four originators with staff, 10,000 projects
and 100,000 loans in every state, seeded in bulk in the shape the services give them.

Organizations, staff, the investor and the approval limits go through the services. So do a few
loans of today at the end (submitted, approved, signed, active, closed), and every repayment
history credential. The bulk (projects over the last 540 days, borrowers with their wallets,
loans with their whole story) is played in memory by the same rules as the services:
`_transition`, `_audit`, the agreement document, its hash and both Ed25519 signatures, the
schedule, the allocation of every payment (fees, interest, principal, oldest row first), the
nightly arrears job, write-offs, refunds. What each step publishes is built by the services'
own `_publish` functions. The rows go in by COPY, the book entries through the ledger's writer
in signed batches of 10,000, indexed and marked in the outbox as `outbox_flush` leaves them.
`invariants()` then checks every loan (and the ones the services made) the way the services
keep them.

Bulk loans go only to projects without eligibility criteria: a loan under criteria carries a
verified presentation of the borrower's credentials, and one credential per borrower would
cost more than all the rest. A fifth of the projects have criteria (investors see them in the
catalogue like the others).
"""

from __future__ import annotations

import multiprocessing
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from unittest import mock

from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.db.models.fields import AutoFieldMixin
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.applications import agreement as agreements
from apps.applications import repayment as allocation
from apps.applications import services as loan_services
from apps.applications.consent import CONSENT_VERSION
from apps.applications.models import (
    Agreement,
    Disbursement,
    Installment,
    Loan,
    LoanEvent,
    LoanStatus,
    Repayment,
)
from apps.applications.selectors import outstanding_total
from apps.identity import services as identity
from apps.identity.credential_services import credential_issue
from apps.identity.models import Organization, Role, User, Wallet, WalletEvent
from apps.identity.ssi.didkey import Ed25519Key
from apps.identity.wallet_services import custodial_key, wallet_of_organization
from apps.ledger import storage
from apps.ledger.entries import canonical_json, encode_entry
from apps.ledger.models import Book, Log, OutboxEntry
from apps.ledger.sealing import seal
from apps.ledger.services import log_for_book, log_writer, outbox_flush
from apps.projects import services as project_services
from apps.projects.models import (
    CloseReason,
    Frequency,
    Project,
    ProjectEvent,
    ProjectStatus,
    money_text,
)
from apps.projects.schedule import build_schedule
from apps.projects.selectors import loan_terms

PASSWORD = "load bench 2026 password"  # noqa: S105 (people of a throwaway database)
HISTORY_DAYS = 540
# (name, currency, amounts per KES, share of the projects and loans)
ORGANIZATIONS = (
    ("Kijani Microfinance", "KES", 1, 0.4),
    ("Bahari Savings Cooperative", "TZS", 20, 0.2),
    ("Nile Growth Fund", "UGX", 30, 0.2),
    ("Sahel Agri Credit", "XOF", 5, 0.2),
)
# Above this (KES, times the currency's factor) an application needs a second approval.
APPROVAL_LIMIT = 60_000
AGE_CRITERIA = {
    "all": [{"credential": "age", "claim": "birthDate", "op": "age_at_least", "value": 18}]
}
# Project terms in KES: amounts scale with the organization's currency.
TEMPLATES = (
    {
        "name": "Dairy goats for smallholders",
        "description": "Two in-calf goats per family, repaid monthly from milk sales.",
        "min_amount": 5_000,
        "max_amount": 40_000,
        "min_duration": 6,
        "max_duration": 18,
        "annual_rate": "18",
        "interest_method": "declining_equal_installments",
        "repayment_frequency": "monthly",
        "grace_periods": 1,
        "fee_percent": "1.5",
        "fee_fixed": 0,
        "eligibility": AGE_CRITERIA,
    },
    {
        "name": "Rice inputs before the long rains",
        "description": "Seed and fertiliser before planting, repaid once after the harvest.",
        "min_amount": 3_000,
        "max_amount": 25_000,
        "min_duration": 120,
        "max_duration": 180,
        "annual_rate": "16",
        "interest_method": "flat",
        "repayment_frequency": "bullet",
        "grace_periods": 0,
        "fee_percent": "0",
        "fee_fixed": 0,
        "eligibility": {},
    },
    {
        "name": "Market stall stock",
        "description": "Stock for a market stall, repaid every week from sales.",
        "min_amount": 2_000,
        "max_amount": 15_000,
        "min_duration": 8,
        "max_duration": 16,
        "annual_rate": "24",
        "interest_method": "flat",
        "repayment_frequency": "weekly",
        "grace_periods": 0,
        "fee_percent": "1",
        "fee_fixed": 0,
        "eligibility": {},
    },
    {
        "name": "Solar home systems",
        "description": "A panel, a battery and four lamps, repaid every two weeks.",
        "min_amount": 10_000,
        "max_amount": 60_000,
        "min_duration": 6,
        "max_duration": 20,
        "annual_rate": "20",
        "interest_method": "declining_equal_principal",
        "repayment_frequency": "biweekly",
        "grace_periods": 0,
        "fee_percent": "0",
        "fee_fixed": 200,
        "eligibility": {},
    },
    {
        "name": "Motorbike taxis",
        "description": "A motorbike for a rider with a licence, repaid monthly from fares.",
        "min_amount": 40_000,
        "max_amount": 150_000,
        "min_duration": 12,
        "max_duration": 24,
        "annual_rate": "22",
        "interest_method": "declining_equal_installments",
        "repayment_frequency": "monthly",
        "grace_periods": 0,
        "fee_percent": "2",
        "fee_fixed": 0,
        "eligibility": {},
    },
)
PLACES = ("Nakuru", "Kisumu", "Eldoret", "Mwanza", "Arusha", "Gulu", "Mbale", "Thiès", "Kaolack")
PURPOSES = (
    "Stock for the shop before the school term.",
    "Seed and fertiliser for two acres.",
    "A second cow for the milk round.",
    "Repairs to the motorbike and a new tyre.",
    "Solar lamps so the children can study at night.",
)
NAMES = (
    "Achieng",
    "Baraka",
    "Chausiku",
    "Daudi",
    "Esther",
    "Faraji",
    "Grace",
    "Hamisi",
    "Imani",
    "Jabari",
    "Kamau",
    "Lulu",
    "Moussa",
    "Nia",
    "Ousmane",
    "Penda",
)
RAILS = ("cash", "mobile_money", "bank_transfer")
COPY_CHUNK_LOANS = 5_000
SAMPLE_EVERY = 25  # one book entry in SAMPLE_EVERY goes through encode_entry's schema check


@dataclass
class Originator:
    organization: Organization
    admin: User
    agent: User
    currency: str
    scale: int
    key: Ed25519Key
    did: str
    limit: Decimal


@dataclass
class SeedReport:
    cached: bool
    seconds: dict[str, float]  # by phase
    counts: dict[str, int]
    agent_email: str
    investor_email: str
    password: str = PASSWORD


def counts() -> dict[str, int]:
    return {
        "organizations": Organization.objects.count(),
        "projects": Project.objects.count(),
        "loans": Loan.objects.count(),
        "installments": Installment.objects.count(),
        "repayments": Repayment.objects.count(),
        "book blocks": sum(Log.objects.values_list("length", flat=True)),
    }


def seed(*, projects: int, loans: int) -> SeedReport:
    """The node's data, made unless the database already holds exactly this seed."""
    agent, investor = _agent_email(0), "investor@load.bench.test"
    found = counts()
    pending = OutboxEntry.objects.filter(block_index__isnull=True).exists()
    if found["projects"] == projects and found["loans"] == loans and not pending:
        return SeedReport(True, {}, found, agent, investor)
    phases = _Phases()
    _empty_database()
    rng = random.Random(2026)
    today = timezone.localdate()
    with phases("people"):
        originators = _originators()
        _flush_books()
    books = _Books()
    with _clock() as clock, books.collecting():
        with phases("projects"):
            made = _projects(rng, originators, projects - 1, today, clock)
        with phases("borrowers"):
            borrowers = _borrowers(rng, loans // 4)
        with phases("loans"):
            closings = _loans(rng, made, borrowers, loans - len(SERVICE_LOANS), today, clock)
    with phases("books and credentials"):
        # Two cores: a child signs and stores the books while this process issues the
        # credentials (didkit). Forked without a database connection, each opens its own.
        connection.close()
        child = multiprocessing.get_context("fork").Process(target=books.append_all)
        child.start()
        with _clock() as clock:
            _credentials(closings, originators, borrowers, clock)
        child.join()
        if child.exitcode:
            raise RuntimeError(f"appending the books failed (exit code {child.exitcode})")
    with phases("services"):
        _service_made(originators[0], borrowers, today)
        _flush_books()
        # As a node that has run a while: planner statistics, and the visibility map that
        # index-only scans need (autovacuum would otherwise catch up during the benchmark).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return SeedReport(False, phases.seconds, counts(), agent, investor)


class _Phases:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - started


def _agent_email(number: int) -> str:
    return f"agent@{number}.load.bench.test"


def _empty_database() -> None:
    tables = connection.introspection.django_table_names(only_existing=True)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def _flush_books() -> None:
    for book in Book.values:
        outbox_flush(book=book)


# --- the clock and COPY -------------------------------------------------------------------------


class _Clock:
    """The seed's "now", so the services' own helpers date what they make (the agreement's
    `made_on`, a credential's issuance) on the day the story reaches."""

    def __init__(self) -> None:
        self.moment = timezone.now()

    def now(self) -> datetime:
        return self.moment

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        self.moment = datetime.combine(
            day, datetime.min.time(), tzinfo=timezone.get_current_timezone()
        )
        self.moment += timedelta(hours=hour, minutes=minute)
        return self.moment


@contextmanager
def _clock() -> Iterator[_Clock]:
    clock = _Clock()
    with mock.patch.object(timezone, "now", clock.now):
        yield clock


def _copy(model: type[models.Model], objects: Iterable[models.Model], *, with_pk=False) -> None:
    """COPY OBJECTS into MODEL's table; their database ids come from the table's sequence
    unless WITH_PK."""
    fields = [
        f for f in model._meta.concrete_fields if with_pk or not isinstance(f, AutoFieldMixin)
    ]
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objects:
            copy.write_row(
                [
                    Jsonb(getattr(obj, f.attname))
                    if f.attname in json_fields
                    else getattr(obj, f.attname)
                    for f in fields
                ]
            )


def _copy_rows(model: type[models.Model], attnames: tuple[str, ...], rows: Iterable) -> None:
    """COPY ROWS, tuples of MODEL's ATTNAMES, into its table."""
    columns = ", ".join(
        connection.ops.quote_name(model._meta.get_field(name).column) for name in attnames
    )
    table = connection.ops.quote_name(model._meta.db_table)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _reserve_ids(model: type[models.Model], count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


# --- the public books ---------------------------------------------------------------------------


OUTBOX_COLUMNS = ("book", "key", "entry_type", "data", "created_at", "block_index")


class _Books:
    """Stands in for `book_publish` while the bulk is played: the services' `_publish`
    functions build each entry, kept here with the moment it was published, and appended
    afterwards in that order."""

    def __init__(self) -> None:
        # (moment, number, book, key, entry type, data): tuples sort in publication order.
        self.entries: list[tuple] = []

    @contextmanager
    def collecting(self) -> Iterator[None]:
        with (
            mock.patch.object(loan_services, "book_publish", self.publish),
            mock.patch.object(project_services, "book_publish", self.publish),
        ):
            yield

    def publish(self, *, book: str, entry_type: str, version: int, key: str, value) -> None:
        data = canonical_json({"type": entry_type, "v": version, "key": key, "value": value})
        number = len(self.entries)
        if number % SAMPLE_EVERY == 0:
            checked = encode_entry(
                book=book, entry_type=entry_type, version=version, key=key, value=value
            )
            assert checked == data, f"{key}: the book would hold other bytes"
        self.entries.append((timezone.now(), number, book, key, entry_type, data))

    def append_all(self) -> None:
        """Append every entry to its book in the order it was published, as outbox_flush does:
        signed batches (of 10,000 here), the key index, the outbox rows marked appended."""
        self.entries.sort()
        by_book: dict[str, list[tuple]] = defaultdict(list)
        for entry in self.entries:
            by_book[entry[2]].append(entry)
        self.entries = []
        for book, entries in by_book.items():
            log = log_for_book(book=book)
            for start in range(0, len(entries), 10_000):
                batch = entries[start : start + 10_000]
                with transaction.atomic(), log_writer(log=log) as writer:
                    log.refresh_from_db()
                    first = log.length
                    writer.append([data for *_, data in batch])
                    rows = [
                        (first + n, key, kind, False) for n, (*_, key, kind, _) in enumerate(batch)
                    ]
                    storage.index_add(log_id=log.pk, rows=rows)
                    _copy_rows(
                        OutboxEntry,
                        OUTBOX_COLUMNS,
                        (
                            (book, key, kind, data, moment, first + n)
                            for n, (moment, _, _, key, kind, data) in enumerate(batch)
                        ),
                    )


# --- people, through the services ---------------------------------------------------------------


def _originators() -> list[Originator]:
    made = []
    for number, (name, currency, scale, _) in enumerate(ORGANIZATIONS):
        organization = identity.organization_create(
            name=name,
            admin_email=f"admin@{number}.load.bench.test",
            admin_full_name=f"{name} admin",
            admin_password=PASSWORD,
        )
        admin = User.objects.get(email=f"admin@{number}.load.bench.test")
        agent = identity.staff_member_create(
            organization=organization,
            email=_agent_email(number),
            full_name=f"{name} agent",
            password=PASSWORD,
            role=Role.ORIGINATOR_AGENT,
        )
        limit = Decimal(APPROVAL_LIMIT * scale)
        loan_services.approval_limit_set(actor=admin, currency=currency, amount=limit)
        wallet = wallet_of_organization(organization=organization)
        key = custodial_key(wallet=wallet)
        made.append(Originator(organization, admin, agent, currency, scale, key, wallet.did, limit))
    identity.user_self_register(
        email="investor@load.bench.test",
        full_name="Load Investor",
        password=PASSWORD,
        role=Role.INVESTOR,
    )
    return made


# --- projects -----------------------------------------------------------------------------------


@dataclass
class _Project:
    project: Project
    originator: Originator
    open_until: date  # the last day it took applications
    loans: bool  # takes bulk loans (no eligibility criteria)


def _terms(template: dict, originator: Originator, today: date) -> dict:
    money = ("min_amount", "max_amount", "fee_fixed")
    terms = {k: Decimal(v * originator.scale) if k in money else v for k, v in template.items()}
    for name in ("annual_rate", "fee_percent"):
        terms[name] = Decimal(terms[name])
    return {
        **terms,
        "currency": originator.currency,
        "target_amount": terms["max_amount"] * 20,
        "starts_on": today,
        "ends_on": today + timedelta(days=365),
        "invite_only": False,
        "min_ticket": Decimal(0),
        "max_ticket": Decimal(0),
        "first_loss_percent": Decimal(10),
    }


def _projects(rng, originators, count, today, clock) -> list[_Project]:
    """COUNT projects, most open, over HISTORY_DAYS: each template's terms checked once by the
    services' own validation, then every project's events and book entries as `_transition`
    makes them."""
    checked = {
        (originator.currency, number): project_services._clean_terms(
            _terms(template, originator, today)
        )
        for originator in originators
        for number, template in enumerate(TEMPLATES)
    }
    weights = [share for *_, share in ORGANIZATIONS]
    made, events = [], []
    for n in range(count):
        originator = rng.choices(originators, weights)[0]
        number = rng.randrange(len(TEMPLATES))
        terms = dict(checked[originator.currency, number])
        fate = rng.random()
        draft = fate < 0.05
        created = today - timedelta(days=rng.randrange(60 if draft else HISTORY_DAYS))
        terms["name"] = f"{terms['name']}, {rng.choice(PLACES)} ({n + 1})"
        terms["target_amount"] = terms["max_amount"] * rng.choice((10, 20, 25, 50, 100))
        project = Project(
            id=uuid.uuid4(),
            organization=originator.organization,
            created_by=originator.admin,
            created_at=clock.at(created, 9),
            updated_at=clock.now(),
        )
        for name in project_services.TERM_FIELDS:
            if name in terms:
                setattr(project, name, terms[name])
        admin = originator.admin
        events.append(
            ProjectEvent(
                project=project,
                actor=admin,
                to_status=ProjectStatus.DRAFT,
                version=0,
                detail="created",
                at=clock.now(),
            )
        )
        if draft:
            project.starts_on, project.ends_on = today, today + timedelta(days=180)
            made.append(_Project(project, originator, today, False))
            continue
        published = min(created + timedelta(days=rng.randrange(3)), today)
        project.starts_on = published
        project.ends_on = today + timedelta(days=rng.randrange(30, 365))
        open_until = today
        _project_move(
            project, ProjectStatus.PUBLISHED, admin, "published", clock.at(published, 11), events
        )
        if fate < 0.14 and published < today - timedelta(days=40):
            # Ended by its date: beat closes it the night after.
            project.ends_on = published + timedelta(
                days=rng.randrange(30, (today - published).days)
            )
            project.closed_at = clock.at(project.ends_on + timedelta(days=1), 2)
            project.close_reason = CloseReason.END_DATE
            _project_move(
                project,
                ProjectStatus.CLOSED,
                None,
                f"applications ended on {project.ends_on}",
                project.closed_at,
                events,
            )
            open_until = project.ends_on
        elif fate < 0.22 and published < today - timedelta(days=20):
            paused = published + timedelta(days=rng.randrange(10, (today - published).days))
            _project_move(
                project, ProjectStatus.PAUSED, admin, "paused", clock.at(paused, 15), events
            )
            open_until = paused - timedelta(days=1)
        made.append(_Project(project, originator, open_until, not project.eligibility))
    _copy(Project, (p.project for p in made), with_pk=True)
    _copy(ProjectEvent, events)
    return made


def _project_move(project, to, actor, detail, moment, events) -> None:
    events.append(
        ProjectEvent(
            project=project,
            actor=actor,
            from_status=project.status,
            to_status=to,
            version=project.version + 1,
            detail=detail,
            at=moment,
        )
    )
    project.status, project.version, project.updated_at = to, project.version + 1, moment
    if to == ProjectStatus.PUBLISHED:
        project.published_at = moment
    project_services._publish(project)


# --- borrowers ----------------------------------------------------------------------------------


@dataclass
class _Borrower:
    user: User
    key: Ed25519Key
    did: str
    wallet: Wallet


def _borrowers(rng, count: int) -> list[_Borrower]:
    """COUNT borrowers, each with a custodial did:key wallet as registration makes it (one
    password hash for all: hashing is what registration costs, not what it stores)."""
    password = make_password(PASSWORD)
    joined = timezone.now() - timedelta(days=HISTORY_DAYS + 30)
    users = User.objects.bulk_create(
        User(
            email=f"borrower{n}@load.bench.test",
            password=password,
            role=Role.BORROWER,
            full_name=f"{rng.choice(NAMES)} {rng.choice(NAMES)}son",
            date_joined=joined,
        )
        for n in range(count)
    )
    keys = [Ed25519Key.generate() for _ in users]
    wallets = Wallet.objects.bulk_create(
        Wallet(user=user, did=key.did, sealed_key=seal(key.seed), created_at=joined)
        for user, key in zip(users, keys, strict=True)
    )
    _copy_rows(
        WalletEvent,
        WALLET_EVENT_COLUMNS,
        ((w.pk, WalletEvent.Kind.CREATED, w.did, None, "", joined) for w in wallets),
    )
    return [
        _Borrower(user, key, wallet.did, wallet)
        for user, key, wallet in zip(users, keys, wallets, strict=True)
    ]


# --- loans --------------------------------------------------------------------------------------


@dataclass
class _Closing:
    """A loan repaid in full (or written off), for the repayment history credentials."""

    moment: datetime
    loan: Loan
    written_off: bool
    rows: list[tuple[date, date | None]] = field(default_factory=list)


# The high-volume rows go to COPY as tuples of these columns: a model instance costs more to
# make than everything else a row needs.
EVENT_COLUMNS = ("loan_id", "actor_id", "action", "from_status", "to_status", "changes", "at")
INSTALLMENT_COLUMNS = (
    "loan_id",
    "number",
    "due_on",
    "principal",
    "interest",
    "fee",
    "paid_principal",
    "paid_interest",
    "paid_fee",
    "paid_off_on",
)
REPAYMENT_COLUMNS = (
    "public_id",
    "loan_id",
    "reference",
    "rail",
    "amount",
    "paid_on",
    "status",
    "principal",
    "interest",
    "fee",
    "overpaid",
    "recorded_by_id",
    "rejection_reason",
    "created_at",
    "applied_at",
)
WALLET_EVENT_COLUMNS = ("wallet_id", "kind", "did", "actor_id", "detail", "at")


@dataclass
class _Payment:
    """What `_publish_payment` reads of a Repayment."""

    principal: Decimal
    interest: Decimal
    fee: Decimal
    overpaid: Decimal


@dataclass
class _Rows:
    loans: list[Loan] = field(default_factory=list)
    agreements: list[Agreement] = field(default_factory=list)
    disbursements: list[Disbursement] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    installments: list[tuple] = field(default_factory=list)
    repayments: list[tuple] = field(default_factory=list)
    wallet_events: list[tuple] = field(default_factory=list)

    def copy(self) -> None:
        _copy(Loan, self.loans, with_pk=True)
        _copy(Agreement, self.agreements)
        _copy(Disbursement, self.disbursements)
        _copy_rows(LoanEvent, EVENT_COLUMNS, self.events)
        _copy_rows(Installment, INSTALLMENT_COLUMNS, self.installments)
        _copy_rows(Repayment, REPAYMENT_COLUMNS, self.repayments)
        _copy_rows(WalletEvent, WALLET_EVENT_COLUMNS, self.wallet_events)
        self.__init__()


def _loans(rng, projects, borrowers, count, today, clock) -> list[_Closing]:
    """COUNT loans under the open projects without criteria, each played from its application
    to today; returns the closings, for the credentials."""
    loanable = [p for p in projects if p.loans]
    open_pairs: set[tuple[int, object]] = set()
    rows, closings = _Rows(), []
    ids = iter(_reserve_ids(Loan, count))
    for n in range(count):
        project = rng.choice(loanable)
        borrower = rng.choice(borrowers)
        while (borrower.user.pk, project.project.pk) in open_pairs:
            borrower = rng.choice(borrowers)
        story = _Story(rng, clock, rows, project, borrower, next(ids), today)
        closing = story.play()
        if story.loan.is_open:
            open_pairs.add((borrower.user.pk, project.project.pk))
        if closing is not None:
            closings.append(closing)
        if (n + 1) % COPY_CHUNK_LOANS == 0:
            rows.copy()
    rows.copy()
    return closings


class _Story:
    """One loan from its application to today, step by step as the services take it. Its
    schedule is kept as the allocation's own `Due` rows, replaced by what each payment leaves."""

    def __init__(self, rng, clock, rows, project: _Project, borrower: _Borrower, pk, today):
        self.rng, self.clock, self.rows, self.today = rng, clock, rows, today
        self.originator = project.originator
        self.borrower = borrower
        self.project = project.project
        self.open_until = project.open_until
        self.loan = Loan(pk=pk, project=self.project, borrower=borrower.user)
        self.dues: tuple[allocation.Due, ...] = ()
        # Payments settle the oldest rows first: the rows from this one on are still owed.
        self.owed_from = 0
        self.paid_off: dict[int, date] = {}
        self.payments = 0
        self.checked_until: date | None = None

    # the steps ----------------------------------------------------------------------------------

    def play(self) -> _Closing | None:
        rng, today = self.rng, self.today
        start = self.project.starts_on
        span = (self.open_until - start).days
        if rng.random() < 0.06 and self.open_until == today:
            day = today - timedelta(days=rng.randrange(min(span, 10) + 1))
        else:
            # A growing portfolio: more applications lately.
            day = start + timedelta(days=int(span * rng.random() ** 0.6))
        self._submit(day)
        recent = day > today - timedelta(days=10)
        fate = rng.random()
        if recent and fate < 0.4:
            if self.loan.needs_second_approval and rng.random() < 0.5:
                self._first_approval(self._later(day, 1))
            return None
        if fate < (0.5 if recent else 0.08):
            self._reject(self._later(day, 2))
            return None
        if fate < (0.55 if recent else 0.11):
            self._withdraw(self._later(day, 3))
            return None
        day = self._approve(self._later(day, 2))
        if recent and fate < 0.75:
            return None
        day = self._sign(self._later(day, 2))
        if recent:
            return None
        closing = self._repay(self._disburse(self._later(day, 3)))
        self.rows.installments.extend(
            (
                self.loan.pk,
                d.number,
                d.due_on,
                d.principal,
                d.interest,
                d.fee,
                d.paid_principal,
                d.paid_interest,
                d.paid_fee,
                self.paid_off.get(d.number),
            )
            for d in self.dues
        )
        return closing

    def _later(self, day: date, most: int) -> date:
        return min(day + timedelta(days=self.rng.randrange(most + 1)), self.today)

    def _submit(self, day: date) -> None:
        loan, project, originator = self.loan, self.project, self.originator
        moment = self.clock.at(day, 8 + self.rng.randrange(10), self.rng.randrange(60))
        step = originator.scale * 500
        low, high = int(project.min_amount) // step, int(project.max_amount) // step
        amount = Decimal(
            min(
                max(self.rng.randint(low, high) * step, int(project.min_amount)),
                int(project.max_amount),
            )
        )
        if project.repayment_frequency == Frequency.BULLET:
            duration = self.rng.randrange(project.min_duration, project.max_duration + 1, 30)
        else:
            duration = self.rng.randint(project.min_duration, project.max_duration)
        loan.organization = originator.organization
        loan.currency, loan.amount, loan.duration = project.currency, amount, duration
        loan.purpose = self.rng.choice(PURPOSES)
        loan.status, loan.consent_version = LoanStatus.SUBMITTED, CONSENT_VERSION
        loan.needs_second_approval = amount > originator.limit
        loan.consented_at = loan.submitted_at = loan.updated_at = moment
        self.rows.loans.append(loan)
        self._audit(
            self.borrower.user,
            "submitted",
            to_status=LoanStatus.SUBMITTED,
            changes={
                "amount": loan.money(amount),
                "duration": duration,
                "consent_version": CONSENT_VERSION,
            },
        )
        loan_services._publish(loan)

    def _first_approval(self, day: date) -> None:
        loan, agent = self.loan, self.originator.agent
        loan.first_approved_by, loan.first_approved_at = agent, self.clock.at(day, 10)
        loan.updated_at = loan.first_approved_at
        self._audit(
            agent,
            "first_approval",
            changes={"limit": "above the approval limit: a second approval is needed"},
        )

    def _reject(self, day: date) -> None:
        loan = self.loan
        reason = "The business plan does not show how the installments would be paid."
        loan.decided_by, loan.decided_at = self.originator.agent, self.clock.at(day, 11)
        loan.decision_reason = reason
        self._transition(LoanStatus.REJECTED, self.originator.agent, "rejected", {"reason": reason})

    def _withdraw(self, day: date) -> None:
        self.clock.at(day, 18)
        self._transition(LoanStatus.WITHDRAWN, self.borrower.user, "withdrawn")

    def _approve(self, day: date) -> date:
        loan, originator = self.loan, self.originator
        decider = originator.agent
        if loan.needs_second_approval:
            self._first_approval(day)
            day, decider = self._later(day, 1), originator.admin
        moment = self.clock.at(day, 12)
        loan.decided_by, loan.decided_at = decider, moment
        self._transition(LoanStatus.APPROVED, decider, "approved")
        document = loan_services._agreement_document(loan, self.borrower.did, originator.did)
        document_hash = agreements.agreement_hash(document)
        self.agreement = Agreement(
            loan=loan,
            borrower_did=self.borrower.did,
            document=document,
            hash=document_hash,
            originator_did=originator.did,
            originator_signature=agreements.sign_agreement(
                key=originator.key, document_hash=document_hash, role="originator"
            ),
            originator_signed_at=moment,
            originator_signed_by=decider,
            created_at=moment,
        )
        self.rows.agreements.append(self.agreement)
        return day

    def _sign(self, day: date) -> date:
        loan, agreement, borrower = self.loan, self.agreement, self.borrower
        moment = self.clock.at(day, 19)
        agreement.borrower_signature = agreements.sign_agreement(
            key=borrower.key, document_hash=agreement.hash, role="borrower"
        )
        agreement.borrower_signed_at = moment
        self.rows.wallet_events.append(
            (
                borrower.wallet.pk,
                WalletEvent.Kind.AGREEMENT_SIGNED,
                borrower.did,
                borrower.user.pk,
                f"{loan.reference} agreement {agreement.hash[:16]}…",
                moment,
            )
        )
        loan.agreement_hash = agreement.hash
        self._audit(borrower.user, "agreement_signed", changes={"hash": agreement.hash})
        self._changed()
        return day

    def _disburse(self, day: date) -> date:
        loan, agent = self.loan, self.originator.agent
        self.clock.at(day, 10)
        rail, reference = self.rng.choice(RAILS), f"D-{loan.pk}"
        schedule = build_schedule(
            loan_terms(
                project=self.project, amount=loan.amount, duration=loan.duration, disbursed_on=day
            )
        )
        loan.disbursed_on = day
        self._transition(
            LoanStatus.ACTIVE,
            agent,
            "disbursed",
            {"rail": rail, "reference": reference, "on": day.isoformat()},
        )
        zero = Decimal(0)
        self.dues = tuple(
            allocation.Due(
                number=row.number,
                due_on=row.due_on,
                principal=row.principal,
                interest=row.interest,
                fee=row.fee,
                paid_principal=zero,
                paid_interest=zero,
                paid_fee=zero,
            )
            for row in schedule.rows
        )
        code = f"{self.rng.randrange(10**6):06d}"
        disbursement = Disbursement(
            loan=loan,
            rail=rail,
            reference=reference,
            disbursed_on=day,
            recorded_by=agent,
            recorded_at=self.clock.now(),
            code_hash=loan_services._code_hash(loan, code),
        )
        self.rows.disbursements.append(disbursement)
        loan_services._publish_payment(
            loan, payment_id=disbursement.public_id, kind="disbursement", amount=loan.amount, on=day
        )
        self.checked_until = day
        return day

    def _repay(self, disbursed: date) -> _Closing | None:
        """Payments as the borrower's habit has them, up to today: on the due date, a few days
        late, early in full, over-paid at the end, or stopping (then written off once long
        overdue)."""
        rng, today, last = self.rng, self.today, len(self.dues) - 1
        habit = rng.random()
        late_by = rng.randrange(1, 21) if 0.55 <= habit < 0.75 else 0
        stops_at = rng.randrange(len(self.dues)) if habit >= 0.82 else None
        payoff_at = rng.randrange(1, last + 1) if 0.75 <= habit < 0.80 and last else None
        for number in range(len(self.dues)):
            row = self.dues[number]
            if stops_at is not None and number >= stops_at:
                return self._default(row)
            day = max(row.due_on + timedelta(days=late_by), disbursed)
            if day > today:
                break
            self._nightly_arrears(day)
            if row.settled:
                continue
            amount = row.outstanding
            if payoff_at == number:
                amount = allocation.outstanding(self.owed)
            elif 0.80 <= habit < 0.82 and number == last:
                amount += (amount / 20).quantize(amount)
            closed = self._payment(day, amount)
            if closed is not None:
                return closed
        self._nightly_arrears(today)
        return None

    def _default(self, row: allocation.Due) -> _Closing | None:
        """The borrower stopped paying at ROW: arrears grow until today, or until an admin
        writes the loan off 150 to 240 days after ROW fell due."""
        write_off = row.due_on + timedelta(days=self.rng.randrange(150, 240))
        if write_off > self.today or self.rng.random() < 0.4:
            self._nightly_arrears(self.today)
            return None
        self._nightly_arrears(write_off)
        loan, admin = self.loan, self.originator.admin
        self.clock.at(write_off, 16)
        reason = "Unreachable for months; collection costs more than what is left."
        loan.written_off_amount = sum(d.principal - d.paid_principal for d in self.dues)
        loan.closed_on = write_off
        self._transition(
            LoanStatus.WRITTEN_OFF,
            admin,
            "written_off",
            {"reason": reason, "principal": loan.money(loan.written_off_amount)},
        )
        loan_services._publish_payment(
            loan,
            payment_id=uuid.uuid4(),
            kind="write_off",
            amount=loan.written_off_amount,
            on=write_off,
        )
        return _Closing(self.clock.now(), loan, written_off=True)

    def _payment(self, day: date, amount: Decimal) -> _Closing | None:
        """`repayment_record` then `_apply`: allocate, update the rows, the payment, the loan's
        totals and arrears, publish, and close the loan when nothing is owed."""
        loan, agent = self.loan, self.originator.agent
        # After the disbursement (at 10:00) when the fee is paid the same day.
        moment = self.clock.at(day, 11 + self.rng.randrange(8), self.rng.randrange(60))
        result = allocation.allocate(self.owed, amount)
        self.dues = self.dues[: self.owed_from] + result.dues_after
        while self.owed_from < len(self.dues) and self.dues[self.owed_from].settled:
            self.owed_from += 1
        for part in result.rows:
            if part.settles_row:
                self.paid_off[part.number] = day
        self.payments += 1
        payment = _Payment(
            result.total("principal"),
            result.total("interest"),
            result.total("fee"),
            result.overpaid,
        )
        public_id, reference = uuid.uuid4(), f"R-{loan.pk}-{self.payments}"
        self.rows.repayments.append(
            (
                public_id,
                loan.pk,
                reference,
                self.rng.choice(RAILS),
                amount,
                day,
                Repayment.Status.APPLIED,
                payment.principal,
                payment.interest,
                payment.fee,
                payment.overpaid,
                agent.pk,
                "",
                moment,
                moment,
            )
        )
        loan.fees_repaid += payment.fee
        loan.interest_repaid += payment.interest
        loan.principal_repaid += payment.principal
        loan.overpaid += payment.overpaid
        self._arrears(allocation.days_past_due(self.owed, day))
        self._audit(
            agent,
            "repayment_applied",
            changes={
                "reference": reference,
                "amount": loan.money(amount),
                "fee": loan.money(payment.fee),
                "interest": loan.money(payment.interest),
                "principal": loan.money(payment.principal),
                "overpaid": loan.money(payment.overpaid),
            },
        )
        loan_services._publish_payment(
            loan, payment_id=public_id, kind="repayment", amount=amount, on=day, parts=payment
        )
        if self.owed:
            self._changed()
            return None
        loan.closed_on = day
        if loan.overpaid > 0:
            self._transition(
                LoanStatus.OVERPAID, agent, "overpaid", {"overpaid": loan.money(loan.overpaid)}
            )
        else:
            self._transition(LoanStatus.CLOSED, agent, "closed")
        closing = _Closing(
            moment,
            loan,
            written_off=False,
            rows=[(d.due_on, self.paid_off.get(d.number)) for d in self.dues if d.number > 0],
        )
        refund = day + timedelta(days=self.rng.randrange(1, 15))
        if loan.status == LoanStatus.OVERPAID and refund <= self.today and self.rng.random() < 0.6:
            self.clock.at(refund, 14)
            rail, reference = self.rng.choice(RAILS), f"F-{loan.pk}"
            self._transition(
                LoanStatus.CLOSED,
                agent,
                "overpayment_refunded",
                {"amount": loan.money(loan.overpaid), "rail": rail, "reference": reference},
            )
        return closing

    def _nightly_arrears(self, until: date) -> None:
        """`loans_arrears_update`, run every night up to UNTIL: a new version of the loan each
        night its bucket changes."""
        if self.checked_until is None or until <= self.checked_until:
            return
        if self.owed:
            oldest = self.owed[0].due_on
            for days in (1, 31, 61, 91):
                night = oldest + timedelta(days=days)
                if self.checked_until < night <= until:
                    self.clock.at(night, 1)
                    if self._arrears(days):
                        self._changed()
        self.loan.days_past_due = allocation.days_past_due(self.owed, until)
        self.checked_until = until

    @property
    def owed(self) -> tuple[allocation.Due, ...]:
        """The rows not paid in full, oldest first: all that allocation and arrears look at."""
        return self.dues[self.owed_from :]

    # as the services record them -------------------------------------------------------------

    def _arrears(self, days: int) -> bool:
        loan = self.loan
        bucket = allocation.bucket(days)
        changed = bucket != loan.arrears_bucket
        if changed:
            self._audit(
                None,
                "arrears",
                changes={"from": loan.arrears_bucket, "to": bucket, "days_past_due": days},
            )
        loan.days_past_due, loan.arrears_bucket = days, bucket
        return changed

    def _audit(self, actor, action, *, changes=None, from_status="", to_status="") -> None:
        self.rows.events.append(
            (
                self.loan.pk,
                actor.pk if actor else None,
                action,
                from_status,
                to_status,
                Jsonb(changes or {}),
                self.clock.now(),
            )
        )

    def _transition(self, to, actor, action, changes=None) -> None:
        loan = self.loan
        assert to in loan_services.ALLOWED[loan.status], (loan.status, to)
        before = loan.status
        loan.status, loan.version, loan.updated_at = to, loan.version + 1, self.clock.now()
        self._audit(actor, action, changes=changes, from_status=before, to_status=to)
        loan_services._publish(loan)

    def _changed(self) -> None:
        self.loan.version += 1
        self.loan.updated_at = self.clock.now()
        loan_services._publish(self.loan)


# --- credentials and today's loans, through the services ----------------------------------------


def _credentials(closings, originators, borrowers, clock) -> None:
    """The repayment history credential each closing issues (`_issue_repayment_history`), in
    the order the loans closed, with the claims as they stood then; issued and signed by the
    services."""
    issuers = {o.organization.pk: o for o in originators}
    holders = {b.user.pk: b.user for b in borrowers}
    repaid: dict[tuple, list[_Closing]] = defaultdict(list)
    written_off: dict[tuple, int] = defaultdict(int)
    events = []
    for closing in sorted(closings, key=lambda c: c.moment):
        loan = closing.loan
        mine = (loan.borrower_id, loan.organization_id)
        if closing.written_off:
            written_off[mine] += 1
            continue
        repaid[mine].append(closing)
        on_time, count = allocation.on_time_ratio(closing.rows)
        total = sum(
            (
                c.loan.principal_repaid + c.loan.interest_repaid + c.loan.fees_repaid
                for c in repaid[mine]
                if c.loan.currency == loan.currency
            ),
            Decimal(0),
        )
        actor = issuers[loan.organization_id].agent
        clock.moment = closing.moment
        credential_issue(
            issuer=actor,
            holder=holders[loan.borrower_id],
            credential_type="repayment_history",
            claims={
                "loansRepaid": len(repaid[mine]),
                "loansRepaidOnTime": sum(
                    1 for c in repaid[mine] if all(p and p <= d for d, p in c.rows)
                ),
                "loansWrittenOff": written_off[mine],
                "totalRepaid": {"amount": loan.money(total), "currency": loan.currency},
                "lastLoanClosedOn": loan.closed_on.isoformat(),
                "lastLoanAmountBand": loan_services.amount_band(loan.amount, loan.currency),
                "lastLoanInstallments": count,
                "lastLoanOnTimeRatio": str((Decimal(on_time) / count).quantize(Decimal("0.01")))
                if count
                else "0",
            },
        )
        events.append(
            (
                loan.pk,
                actor.pk,
                "credential_issued",
                "",
                "",
                Jsonb({"credential": "repayment_history"}),
                closing.moment,
            )
        )
    _copy_rows(LoanEvent, EVENT_COLUMNS, events)


# Loans of today made by the services themselves, one per step they stop at, under a project
# they publish; `invariants()` holds them to the same checks as the bulk.
SERVICE_LOANS = ("submitted", "approved", "signed", "active", "closed")


def _service_made(originator: Originator, borrowers: list[_Borrower], today: date) -> None:
    admin, agent = originator.admin, originator.agent
    terms = _terms(TEMPLATES[-1], originator, today)
    project = project_services.project_publish(
        actor=admin,
        project=project_services.project_create(
            actor=admin, terms={**terms, "name": f"{terms['name']}, {PLACES[0]}"}
        ),
    )
    for step, borrower in zip(SERVICE_LOANS, borrowers[-len(SERVICE_LOANS) :], strict=True):
        user = borrower.user
        loan = loan_services.application_submit(
            borrower=user,
            project=project,
            amount=money_text(project.min_amount, project.currency),
            duration=project.min_duration,
            purpose=PURPOSES[0],
            consent_version=CONSENT_VERSION,
        )
        if step == "submitted":
            continue
        loan_services.application_approve(actor=agent, loan=loan)
        if step == "approved":
            continue
        loan_services.agreement_sign(borrower=user, loan=loan, password=PASSWORD)
        if step == "signed":
            continue
        loan = loan_services.loan_disburse(
            actor=agent, loan=loan, rail="cash", reference=f"D-{loan.pk}"
        )
        owed = outstanding_total(loan=loan)
        loan_services.repayment_record(
            actor=agent,
            loan=loan,
            amount=loan.money(owed if step == "closed" else owed / 3),
            reference=f"R-{loan.pk}-1",
            rail="mobile_money",
            paid_on=today,
        )


# --- the checks ---------------------------------------------------------------------------------

# Each query counts the loans that break one rule the services keep.
INVARIANTS = {
    "one loan book entry per version": """
        SELECT count(*) FROM applications_loan l
        LEFT JOIN (SELECT e.key, count(*) AS n FROM ledger_bookentry e
                   JOIN ledger_log g ON g.id = e.log_id AND g.book = 'loans' AND g.writer
                   GROUP BY e.key) b ON b.key = 'loan:' || l.public_id
        WHERE coalesce(b.n, 0) <> l.version""",
    "repaid = what the installments were paid": """
        SELECT count(*) FROM applications_loan l
        LEFT JOIN (SELECT loan_id, sum(paid_principal) AS p, sum(paid_interest) AS i,
                          sum(paid_fee) AS f
                   FROM applications_installment GROUP BY loan_id) s ON s.loan_id = l.id
        WHERE (coalesce(s.p, 0), coalesce(s.i, 0), coalesce(s.f, 0))
              <> (l.principal_repaid, l.interest_repaid, l.fees_repaid)""",
    "repaid = the payments applied": """
        SELECT count(*) FROM applications_loan l
        LEFT JOIN (SELECT loan_id, sum(principal) AS p, sum(interest) AS i, sum(fee) AS f,
                          sum(overpaid) AS o, sum(amount) AS a
                   FROM applications_repayment WHERE status = 'applied'
                   GROUP BY loan_id) r ON r.loan_id = l.id
        WHERE (coalesce(r.p, 0), coalesce(r.i, 0), coalesce(r.f, 0), coalesce(r.o, 0))
              <> (l.principal_repaid, l.interest_repaid, l.fees_repaid, l.overpaid)
           OR coalesce(r.a, 0) <> coalesce(r.p + r.i + r.f + r.o, 0)""",
    "disbursed: a disbursement, the signed agreement, a schedule": """
        SELECT count(*) FROM applications_loan l
        LEFT JOIN applications_agreement a ON a.loan_id = l.id
        LEFT JOIN applications_disbursement d ON d.loan_id = l.id
        WHERE l.status IN ('active', 'overpaid', 'closed', 'written_off')
          AND (d.id IS NULL OR a.borrower_signature = '' OR a.hash <> l.agreement_hash
               OR NOT EXISTS (SELECT 1 FROM applications_installment i WHERE i.loan_id = l.id))""",
    "not disbursed: no schedule, no payment": """
        SELECT count(*) FROM applications_loan l
        WHERE l.status IN ('submitted', 'approved', 'rejected', 'withdrawn')
          AND (l.disbursed_on IS NOT NULL
               OR EXISTS (SELECT 1 FROM applications_installment i WHERE i.loan_id = l.id)
               OR EXISTS (SELECT 1 FROM applications_repayment r WHERE r.loan_id = l.id))""",
    "approved: an agreement signed for the organization": """
        SELECT count(*) FROM applications_loan l
        LEFT JOIN applications_agreement a ON a.loan_id = l.id
        WHERE l.status = 'approved'
          AND (a.id IS NULL OR a.originator_signature = ''
               OR (a.borrower_signature = '') <> (l.agreement_hash = ''))""",
    "active: days past due from the oldest unpaid installment": """
        SELECT count(*) FROM applications_loan l
        LEFT JOIN LATERAL (SELECT min(due_on) AS oldest FROM applications_installment i
                           WHERE i.loan_id = l.id AND i.paid_off_on IS NULL
                             AND i.due_on < current_date) x ON true
        WHERE l.status = 'active' AND (
            l.days_past_due <> coalesce(current_date - x.oldest, 0)
            OR l.arrears_bucket <> CASE WHEN l.days_past_due = 0 THEN 'current'
                                        WHEN l.days_past_due <= 30 THEN '1-30'
                                        WHEN l.days_past_due <= 60 THEN '31-60'
                                        WHEN l.days_past_due <= 90 THEN '61-90'
                                        ELSE '90+' END)""",
    "repaid in full: every installment paid, one repayment history credential": """
        SELECT abs((SELECT count(*) FROM applications_loan
                    WHERE status IN ('closed', 'overpaid'))
                   - (SELECT count(*) FROM identity_credentialrecord
                      WHERE credential_type = 'repayment_history'))
             + (SELECT count(*) FROM applications_loan l
                WHERE l.status IN ('closed', 'overpaid') AND EXISTS (
                    SELECT 1 FROM applications_installment i
                    WHERE i.loan_id = l.id AND i.paid_off_on IS NULL))""",
}


def invariants(*, agreements_checked: int = 200) -> list[str]:
    """The rules every loan breaks, with how many loans break each (empty: none); and a sample
    of the signed agreements verified from their files alone."""
    problems = []
    with connection.cursor() as cursor:
        for rule, sql in INVARIANTS.items():
            cursor.execute(sql)
            (broken,) = cursor.fetchone()
            if broken:
                problems.append(f"{rule}: {broken} loans")
    sample = (
        Agreement.objects.exclude(borrower_signature="")
        .select_related("loan")
        .order_by("?")[:agreements_checked]
    )
    unsigned = sum(
        1
        for a in sample
        if not agreements.verify_signed_agreement(a.signed_file()).fully_signed
        or a.hash != a.loan.agreement_hash
    )
    if unsigned:
        problems.append(f"signed agreements that do not verify: {unsigned} of {len(sample)}")
    return problems
