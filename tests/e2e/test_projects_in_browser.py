"""In a real browser: Amina drafts a project with the criteria builder, tries the rules on sample
borrowers (the node evaluates them live), saves and publishes it; Wanjiru finds it among the
projects she qualifies for and previews what a loan would cost her."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.identity import credential_services
from apps.projects import selectors
from apps.projects.models import Project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
AGE_18 = {"credential": "age", "claim": "birthDate", "op": "age_at_least", "value": 18}


def _sign_in(page, node_url: str, email: str, lands_on: str) -> None:
    page.goto(f"{node_url}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(lands_on))


def _born(years: int) -> str:
    today = timezone.localdate()
    return today.replace(year=today.year - years, day=min(today.day, 28)).isoformat()


def _fill_terms(page) -> None:
    today = timezone.localdate()
    page.get_by_label("Name").fill("Dairy goats for Nakuru smallholders")
    page.get_by_label("Description").fill("Two in-calf goats per family, repaid from milk sales.")
    page.get_by_label("Currency").select_option("KES")
    page.get_by_label("Target").fill("500000")
    page.get_by_label("Smallest loan").fill("5000")
    page.get_by_label("Largest loan").fill("40000")
    page.get_by_label("Repayments").select_option("weekly")
    expect(page.locator("[data-duration-unit]").first).to_have_text("weeks")
    page.get_by_label("Repayments").select_option("monthly")
    expect(page.locator("[data-duration-unit]").first).to_have_text("months")
    page.get_by_label("Grace period").fill("1")
    page.get_by_label("Shortest loan").fill("6")
    page.get_by_label("Longest loan").fill("18")
    page.get_by_label("Interest rate, % a year").fill("18")
    page.get_by_label("Interest method").select_option("declining_equal_installments")
    page.get_by_label("Disbursement fee, % of the loan").fill("1.5")
    page.get_by_label("Applications open on").fill(today.isoformat())
    page.get_by_label("Applications close on").fill((today + timedelta(days=90)).isoformat())


def test_amina_builds_criteria_and_wanjiru_qualifies(page, node_url, amina, wanjiru, screenshot):
    _sign_in(page, node_url, amina.email, r"/staff/$")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    page.get_by_role("link", name="Draft a project").first.click()
    _fill_terms(page)

    # Without JavaScript this is a JSON textarea; with it, the builder.
    expect(page.get_by_label("Eligibility criteria (JSON)")).to_be_hidden()
    page.get_by_role("button", name="Add a rule", exact=True).click()
    rule = page.locator('[data-rule-number="1"]')
    rule.get_by_label("Credential").select_option(label="Age")
    rule.get_by_label("Claim").select_option(label="Date of birth")
    rule.get_by_label("Condition").select_option(label="age at least")
    rule.get_by_label("Years").fill("18")

    sample = page.locator('[data-sample="age"]')
    sample.get_by_label("Date of birth").fill(_born(12))
    verdict = page.locator('#criteria-preview-result [data-preview-rule="1"]')
    expect(verdict).to_have_attribute("data-status", "not_met")
    expect(verdict).to_contain_text("Not met")
    expect(verdict).to_contain_text("Age 12 is below 18")
    screenshot("preview-not-met")
    sample.get_by_label("Date of birth").fill(_born(30))
    expect(verdict).to_have_attribute("data-status", "met")
    expect(verdict).to_contain_text("Age 30 is at least 18")
    page.get_by_role("button", name="No credentials at all").click()
    expect(verdict).to_have_attribute("data-status", "missing_credential")
    screenshot("builder")

    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("Age at least 18 (from an Age credential)")).to_be_visible()
    project = Project.objects.get()
    assert project.eligibility == {"all": [AGE_18]}
    assert (project.status, project.repayment_frequency) == ("draft", "monthly")

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text(re.compile(r"is published \(version 1\)"))).to_be_visible()
    project.refresh_from_db()
    assert project.status == "published"
    page.get_by_role("button", name="Sign out").click()

    credential_services.credential_issue(
        issuer=amina, holder=wanjiru, credential_type="age", claims={"birthDate": "1990-02-03"}
    )
    _sign_in(page, node_url, wanjiru.email, r"/borrow/$")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    page.get_by_label("Only projects I qualify for").check()
    page.get_by_role("button", name="Filter").click()
    offer = page.locator("article", has_text="Dairy goats for Nakuru smallholders")
    expect(offer).to_contain_text("You qualify")
    screenshot("borrower-list")
    offer.get_by_role("link", name="Dairy goats for Nakuru smallholders", exact=True).click()

    expect(page.locator('[data-rule="1"]')).to_have_attribute("data-status", "met")
    page.get_by_label("Amount (KES)").fill("12000")
    page.get_by_label("Duration (in months)").fill("12")
    page.get_by_role("button", name="Show the schedule").click()
    expected = selectors.schedule_preview(project=project, amount=Decimal("12000"), duration=12)
    rows = page.locator("table.schedule tbody tr")
    expect(rows).to_have_count(len(expected.rows))
    expect(page.locator('[data-total="cost"]')).to_have_text(f"{expected.total_cost:,.2f} KES")
    expect(rows.last).to_contain_text(expected.maturity_date.isoformat())
    screenshot("schedule")


def test_juma_reopens_a_draft_and_the_builder_keeps_its_criteria(page, node_url, juma, amina):
    """Groups, money with a currency, a list of countries and an issuer list come back into the
    builder and go out unchanged; criteria nested deeper than the builder shows stay editable as
    JSON."""
    from apps.projects import services
    from tests.projects.conftest import goat_terms

    issuer = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    criteria = {
        "all": [
            AGE_18,
            {
                "any": [
                    {
                        "credential": "citizenship",
                        "claim": "citizenship",
                        "op": "in",
                        "value": ["KE", "UG"],
                    },
                    {"credential": "kyc", "claim": "nationality", "op": "==", "value": "KE"},
                ]
            },
            {
                "credential": "monthly_income",
                "claim": "monthlyIncome.amount",
                "op": ">=",
                "value": "150.00",
                "currency": "KES",
            },
            {"credential": "land_size", "op": "present"},
        ],
        "issuers": {"monthly_income": [issuer]},
    }
    draft = services.project_create(actor=juma, terms=goat_terms(eligibility=criteria))
    deep = services.project_create(
        actor=juma,
        terms=goat_terms(name="Deep", eligibility={"all": [{"any": [{"all": [AGE_18]}]}]}),
    )
    _sign_in(page, node_url, juma.email, r"/staff/$")

    page.goto(f"{node_url}/staff/projects/{draft.pk}/edit/")
    expect(page.locator("[data-rule-number]")).to_have_count(5)
    group = page.locator(".criteria-group")
    expect(group.get_by_label("This group is met by")).to_have_value("any")
    expect(page.locator('[data-rule-number="2"]').get_by_label("Value")).to_have_values(
        ["KE", "UG"]
    )
    expect(page.locator('[data-rule-number="4"]').get_by_label("Currency")).to_have_value("KES")
    expect(page.locator('[data-rule-number="5"]').get_by_label("Claim")).to_have_value("")
    page.get_by_text("Accept credentials only from some issuers").click()
    other = page.locator('[data-issuers="monthly_income"]').get_by_label(
        "Other issuers (DIDs, one per line)"
    )
    expect(other).to_have_value(issuer)
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text(re.compile("Draft .* saved"))).to_be_visible()
    draft.refresh_from_db()
    assert draft.eligibility == criteria

    page.goto(f"{node_url}/staff/projects/{deep.pk}/edit/")
    expect(page.get_by_text(re.compile("which the builder cannot show"))).to_be_visible()
    textarea = page.get_by_label("Eligibility criteria (JSON)")
    expect(textarea).to_be_visible()
    textarea.fill(json.dumps({"any": [AGE_18]}))
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text(re.compile("Draft .* saved"))).to_be_visible()
    deep.refresh_from_db()
    assert deep.eligibility == {"any": [AGE_18]}
