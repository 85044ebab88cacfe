"""Bugs in the projects core that building the pages found, fixed in the core (the pages never
worked around them); these keep them fixed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.projects import eligibility, selectors, services
from apps.projects.models import ProjectStatus

from .conftest import goat_terms


def _sample_value(claim: dict, op: str):
    if op in eligibility.AGES:
        return 18
    values = {
        "date": "2000-01-31",
        "country": "KE",
        "text": "Nakuru",
        "decimal": "2.5",
        "money": "150.00",
        "count": 3,
    }
    value = values[claim["kind"]]
    return [value] if op in eligibility.MEMBERSHIP else value


def test_every_rule_the_catalogue_offers_validates():
    """catalogue() is what a form builder offers: every (claim, operator) pair in it must make a
    valid rule. It offers "present" on money claims under their path ("monthlyIncome.amount"),
    which validate() refuses (it wants the claim name, "monthlyIncome", for "present"), so the
    criteria builder cannot make the rule "shows a monthly income"."""
    refused = []
    for credential in eligibility.catalogue():
        for claim in credential["claims"]:
            for op in claim["operators"]:
                rule = {"credential": credential["credential"], "claim": claim["claim"], "op": op}
                if op != eligibility.PRESENT:
                    rule["value"] = _sample_value(claim, op)
                if claim["currency"] and op != eligibility.PRESENT:
                    rule["currency"] = "KES"
                try:
                    eligibility.validate({"all": [rule]})
                except eligibility.InvalidCriteria as exc:
                    refused.append(exc.errors[0])
    assert refused == []


def test_resuming_a_draft_does_not_publish_it(goat_draft, amina):
    """project_resume() moves a draft straight to published (ALLOWED[draft] holds published),
    skipping what project_publish() checks first: the terms again and an end date in the past."""
    today = timezone.localdate()
    services.project_update_draft(
        actor=amina,
        project=goat_draft,
        terms={"starts_on": today - timedelta(days=30), "ends_on": today - timedelta(days=1)},
    )
    with pytest.raises(ValidationError):
        services.project_publish(actor=amina, project=goat_draft)

    with pytest.raises(ValidationError):
        services.project_resume(actor=amina, project=goat_draft)

    goat_draft.refresh_from_db()
    assert goat_draft.status == ProjectStatus.DRAFT


@pytest.mark.parametrize(
    "changes",
    [
        {"max_duration": 5000},  # monthly: a schedule has at most 1000 installments
        {
            "repayment_frequency": "bullet",
            "grace_periods": 0,
            "min_duration": 30,
            "max_duration": 4000,  # a bullet loan lasts at most 3660 days
        },
        {"fee_percent": Decimal("100")},  # a schedule needs a fee below 100 %
        {"fee_fixed": Decimal("5000.00")},  # the fee must be less than the smallest loan
    ],
)
def test_a_project_the_services_accept_can_preview_every_loan_in_its_range(juma, changes):
    """_clean_terms() accepts durations and fees that schedule.LoanTerms refuses, so a project
    can be drafted and published whose schedule preview fails at the edge of its own range (and
    the error is then reported on "amount" even when the duration is the problem)."""
    try:
        project = services.project_create(actor=juma, terms=goat_terms(**changes))
    except ValidationError:
        return  # refused when drafted: fine
    for amount in (project.min_amount, project.max_amount):
        for duration in (project.min_duration, project.max_duration):
            selectors.schedule_preview(project=project, amount=amount, duration=duration)


def test_amounts_in_messages_are_at_the_currencys_precision(goat_draft, amina):
    """Stored amounts have the column's 3 decimals; messages built from them show "5000.000"
    for a currency of 2 decimals (the range of a schedule preview, an amendment's history)."""
    stored = selectors.organization_project(organization=goat_draft.organization, pk=goat_draft.pk)
    with pytest.raises(ValidationError) as refused:
        selectors.schedule_preview(project=stored, amount=Decimal("100"), duration=12)
    [message] = refused.value.message_dict["amount"]
    assert "5000.00 " in message and "5000.000" not in message

    project = services.project_publish(actor=amina, project=goat_draft)
    services.project_amend(
        actor=amina, project=project, amendment=services.Amendment(target_amount=Decimal("750000"))
    )
    detail = project.events.first().detail
    assert "500000.000" not in detail


def test_a_published_project_keeps_its_picture(goat_draft, amina):
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(png, "PNG")
    services.project_publish(actor=amina, project=goat_draft)

    with pytest.raises(ValidationError, match="keeps its picture"):
        services.project_set_image(actor=amina, project=goat_draft, data=png.getvalue())
