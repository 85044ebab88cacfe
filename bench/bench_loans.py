"""Benchmark: recording repayments, the node's money-moving hot path, beside the bare write it
cannot avoid.

Ours: apps.applications.services.repayment_record on PostgreSQL, one payment per call and per
durable commit, spread over many active loans: the loan row locked, the reference checked for a
replay, the payment allocated over the installments (fees, interest, principal, oldest first),
installments, payment and loan updated, an audit event written, the loan's new version and the
payment published to the books through the outbox, and the borrower's notification queued.

Reference, same run, same database: the minimum a durable, concurrency-safe payment write needs
with the Django ORM: in one transaction, lock the loan row, insert the payment row, update one
installment row and the loan's totals. The ratio says what the allocation, audit trail,
idempotency and publication cost on top of that.

Both run interleaved in chunks on one core (the process is pinned to CPU 0); medians. Uses
DATABASE_URL if it names PostgreSQL, else postgres://postgres@127.0.0.1:5432/growr_bench_loans.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAYMENTS = int(os.environ.get("BENCH_PAYMENTS", "1200"))
LOANS = 60
PASSWORD = "bench password 2026"  # noqa: S105 (bench users in a throwaway database)


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        return url
    return "postgres://postgres@127.0.0.1:5432/growr_bench_loans"


def _setup_django() -> None:
    import psycopg

    url = _database_url()
    name, admin = url.rsplit("/", 1)[1], url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "growr_site.settings.local")
    os.environ.setdefault("GROWR_NOTIFIERS", "console")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("flush", "--no-input", verbosity=0)
    call_command("migrate", verbosity=0)


def _active_loans(count: int):
    """COUNT active loans of KES 40,000 over 18 months, each of another borrower, disbursed today
    under one project with no criteria."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from apps.applications import services
    from apps.applications.consent import CONSENT_VERSION
    from apps.identity import services as identity
    from apps.identity.models import Role, User
    from apps.projects.services import project_create, project_publish

    identity.organization_create(
        name="Bench MFI", admin_email="admin@bench.test", admin_full_name="Admin",
        admin_password=PASSWORD,
    )  # fmt: skip
    admin = User.objects.get(email="admin@bench.test")
    today = timezone.localdate()
    project = project_publish(
        actor=admin,
        project=project_create(
            actor=admin,
            terms={
                "name": "Bench loans", "currency": "KES",
                "target_amount": Decimal("100000000"), "min_amount": Decimal("1000"),
                "max_amount": Decimal("100000"), "min_duration": 6, "max_duration": 24,
                "annual_rate": Decimal("18"), "interest_method": "declining_equal_installments",
                "repayment_frequency": "monthly", "grace_periods": 0,
                "fee_percent": Decimal("1"), "fee_fixed": Decimal("0"), "starts_on": today,
                "ends_on": today + timedelta(days=30), "invite_only": False,
                "min_ticket": Decimal("0"), "first_loss_percent": Decimal("0"),
                "eligibility": {},
            },
        ),
    )  # fmt: skip
    loans = []
    for number in range(count):
        borrower = identity.user_self_register(
            email=f"b{number}@bench.test", full_name=f"Borrower {number}",
            password=PASSWORD, role=Role.BORROWER,
        )  # fmt: skip
        loan = services.application_submit(
            borrower=borrower, project=project, amount="40000", duration=18, purpose="bench",
            consent_version=CONSENT_VERSION,
        )  # fmt: skip
        services.application_approve(actor=admin, loan=loan)
        services.agreement_sign(borrower=borrower, loan=loan, password=PASSWORD)
        loans.append(
            services.loan_disburse(actor=admin, loan=loan, rail="cash", reference=f"D{number}")
        )
    return admin, loans


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    _setup_django()
    from decimal import Decimal

    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from apps.applications import services
    from apps.applications.models import Installment, Loan, Repayment

    admin, loans = _active_loans(LOANS)
    today = timezone.localdate()
    counter = {"ours": 0, "bare": 0}

    def ours():
        n = counter["ours"] = counter["ours"] + 1
        services.repayment_record(
            actor=admin, loan=loans[n % LOANS], amount="10.00", reference=f"S{n}",
            rail="mobile_money", paid_on=today,
        )  # fmt: skip

    def bare():
        n = counter["bare"] = counter["bare"] + 1
        loan = loans[n % LOANS]
        with transaction.atomic():
            locked = Loan.objects.select_for_update().get(pk=loan.pk)
            Repayment.objects.create(
                loan=locked, reference=f"B{n}", rail="mobile_money", amount=Decimal("10.00"),
                paid_on=today, status=Repayment.Status.APPLIED, recorded_by=admin,
            )  # fmt: skip
            Installment.objects.filter(loan=locked, number=18).update(paid_fee=F("paid_fee"))
            Loan.objects.filter(pk=locked.pk).update(interest_repaid=F("interest_repaid") + 10)

    chunk = 50
    for function in (ours, bare):
        function()
    samples = {"ours": [], "bare": []}
    for _ in range(PAYMENTS // chunk):
        for name, function in (("ours", ours), ("bare", bare)):
            started = time.perf_counter()
            for _ in range(chunk):
                function()
            samples[name].append(chunk / (time.perf_counter() - started))
    rates = {name: statistics.median(values) for name, values in samples.items()}
    print(f"repayments over {LOANS} loans, {PAYMENTS} each, one durable commit per payment")
    print(f"  repayment_record (ours): {rates['ours']:8.0f} payments/s")
    print(f"  bare locked write (reference): {rates['bare']:8.0f} payments/s")
    print(f"  ratio ours / reference: {rates['ours'] / rates['bare']:.2f}")


if __name__ == "__main__":
    main()
