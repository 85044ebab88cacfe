"""Projects for the stories: Kijani's dairy goat loans, drafted by Juma, published by Amina."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone


def goat_terms(**changes) -> dict:
    today = timezone.localdate()
    terms = {
        "name": "Dairy goats for Nakuru smallholders",
        "description": "Two in-calf goats per family, repaid from milk sales.",
        "currency": "KES",
        "target_amount": Decimal("500000.00"),
        "min_amount": Decimal("5000.00"),
        "max_amount": Decimal("40000.00"),
        "min_duration": 6,
        "max_duration": 18,
        "annual_rate": Decimal("18"),
        "interest_method": "declining_equal_installments",
        "repayment_frequency": "monthly",
        "grace_periods": 1,
        "fee_percent": Decimal("1.5"),
        "fee_fixed": Decimal("0"),
        "starts_on": today,
        "ends_on": today + timedelta(days=90),
        "invite_only": False,
        "min_ticket": Decimal("1000.00"),
        "first_loss_percent": Decimal("10"),
        "eligibility": {
            "all": [
                {"credential": "age", "claim": "birthDate", "op": "age_at_least", "value": 18},
                {"credential": "citizenship", "claim": "citizenship", "op": "in", "value": ["KE"]},
            ]
        },
    }
    terms.update(changes)
    return terms


@pytest.fixture
def issue(kijani):
    """Issue a credential (as tests/identity/conftest.py does): issue(by, to, type, claims)."""
    from apps.identity import credential_services

    def issue(by, to, credential_type="age", claims=None, **extra):
        claims = claims if claims is not None else {"birthDate": "1990-02-03"}
        return credential_services.credential_issue(
            issuer=by, holder=to, credential_type=credential_type, claims=claims, **extra
        )

    return issue


@pytest.fixture
def goat_draft(juma):
    from apps.projects.services import project_create

    return project_create(actor=juma, terms=goat_terms())


YESTERDAY = date.today() - timedelta(days=1)
