"""Loans for the stories: Wanjiru and Otieno apply to Kijani's dairy goat project, Juma (agent)
and Amina (admin) review, sign, disburse and record repayments."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.applications import services
from apps.applications.consent import CONSENT_VERSION
from apps.applications.models import Loan
from apps.identity import credential_services
from apps.projects.services import project_create, project_publish
from tests.projects.conftest import goat_terms


@pytest.fixture
def goats(juma, amina):
    """Kijani's published dairy goat project: KES 5,000-40,000 over 6-18 months at 18%,
    declining balance, one month of grace, a 1.5% fee; for adults who are Kenyan citizens."""
    project = project_create(actor=juma, terms=goat_terms())
    return project_publish(actor=amina, project=project)


@pytest.fixture
def simple_goats(juma, amina):
    """The same project with no grace and no fee: easier numbers for repayment stories."""
    terms = goat_terms(name="Goats, plain terms", grace_periods=0, fee_percent=Decimal(0))
    return project_publish(actor=amina, project=project_create(actor=juma, terms=terms))


@pytest.fixture
def credentials_of(amina):
    """Give a borrower an adult's age credential and Kenyan citizenship, issued by Kijani."""

    def give(borrower, birth_date="1990-02-03", country="KE"):
        for kind, claims in (
            ("age", {"birthDate": birth_date}),
            ("citizenship", {"citizenship": country}),
        ):
            credential_services.credential_issue(
                issuer=amina, holder=borrower, credential_type=kind, claims=claims
            )

    return give


def present_for(borrower, project):
    """A custodial presentation answering the application challenge for PROJECT, of every
    credential the borrower holds of the types asked for."""
    challenge = services.application_challenge(borrower=borrower, project=project)
    records = [
        r for r in borrower.credentials.all() if r.credential_type in (challenge.request or {})
    ]
    return credential_services.presentation_build_custodial(
        holder=borrower,
        nonce=challenge.nonce,
        credential_ids=[r.pk for r in records],
        disclose={},
    )


@pytest.fixture
def apply(credentials_of):
    def apply(borrower, project, amount="20000", duration=12, with_credentials=True, **extra):
        if with_credentials and not borrower.credentials.exists():
            credentials_of(borrower)
        envelope = present_for(borrower, project) if project.eligibility else None
        return services.application_submit(
            borrower=borrower,
            project=project,
            amount=amount,
            duration=duration,
            purpose=extra.pop("purpose", "Two in-calf goats and a shed."),
            consent_version=extra.pop("consent_version", CONSENT_VERSION),
            presentation=extra.pop("presentation", envelope),
        )

    return apply


@pytest.fixture
def active_loan(apply, juma, simple_goats, wanjiru):
    """Wanjiru's 12-month loan of KES 12,000 under the plain goat project, approved by Juma,
    signed, and disbursed by M-Pesa today, or DAYS_AGO days ago."""

    def make(borrower=None, amount="12000", duration=12, days_ago=0):
        borrower = borrower or wanjiru
        loan = apply(borrower, simple_goats, amount=amount, duration=duration)
        services.application_approve(actor=juma, loan=loan)
        if days_ago:
            # A loan is not disbursed before it is approved: date the approval back too.
            Loan.objects.filter(pk=loan.pk).update(
                decided_at=timezone.now() - timedelta(days=days_ago)
            )
        services.agreement_sign(borrower=borrower, loan=loan, password=PASSWORD)
        return services.loan_disburse(
            actor=juma,
            loan=loan,
            rail="mobile_money",
            reference=f"MPESA-{loan.pk}",
            disbursed_on=timezone.localdate() - timedelta(days=days_ago),
        )

    return make


PASSWORD = "correct horse battery staple"
