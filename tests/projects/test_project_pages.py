"""Kijani's project pages: Juma drafts through the editor, Amina publishes, pauses, amends and
closes from the project's page; the criteria builder's live preview; Wanjiru and Otieno find the
open projects and see whether they qualify; anyone reads a published project's page and previews
its repayment schedule; borrowers, investors and other originators stay out of the staff pages."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from apps.identity.models import Role
from apps.projects import selectors, services
from apps.projects.models import Project, ProjectEvent, ProjectStatus
from apps.projects.services import MAX_IMAGE_BYTES
from tests.factories import OrganizationFactory, StaffFactory
from tests.queries import page_queries

from .conftest import goat_terms

LIST = reverse("projects:list")
NEW = reverse("projects:new")
PREVIEW = reverse("projects:criteria-preview")
BORROW_LIST = reverse("borrow:projects")
AGE_18 = {"credential": "age", "claim": "birthDate", "op": "age_at_least", "value": 18}
KENYAN = {"credential": "citizenship", "claim": "citizenship", "op": "in", "value": ["KE"]}


def _detail(project) -> str:
    return reverse("projects:detail", args=[project.pk])


def _edit(project) -> str:
    return reverse("projects:edit", args=[project.pk])


def _move(project, move: str) -> str:
    return reverse("projects:move", args=[project.pk, move])


def _page(project) -> str:
    return reverse("project-page", args=[project.pk])


def _image(project) -> str:
    return reverse("project-image", args=[project.pk])


def _form(**changes) -> dict:
    """goat_terms as the editor posts them."""
    terms = goat_terms()
    data = {}
    for field, value in terms.items():
        if field == "eligibility":
            data[field] = json.dumps(value) if value else ""
        elif field == "invite_only":
            if value:
                data[field] = "on"
        else:
            data[field] = str(value)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _png(size=(40, 30)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 70)).save(out, "PNG")
    return SimpleUploadedFile("goats.png", out.getvalue(), content_type="image/png")


def _published(actor_draft, admin, **changes):
    project = services.project_create(actor=actor_draft, terms=goat_terms(**changes))
    return services.project_publish(actor=admin, project=project)


def _born(years: int, days: int = 0) -> str:
    today = timezone.localdate()
    return (today.replace(year=today.year - years) - timedelta(days=days)).isoformat()


# --- drafting through the editor ----------------------------------------------------------------


def test_juma_drafts_a_project_through_the_editor(client, juma):
    client.force_login(juma)

    editor = client.get(NEW)
    assert editor.status_code == 200
    page = editor.content.decode()
    for shown in ("Draft a project", "data-criteria-builder", "criteria-catalogue", "months"):
        assert shown in page
    assert '<option value="KES" selected>KES · Kenyan Shilling</option>' in page
    response = client.post(NEW, _form(), follow=True)

    project = Project.objects.get()
    assert response.redirect_chain == [(_detail(project), 302)]
    assert (project.status, project.version, project.created_by) == ("draft", 0, juma)
    assert project.max_amount == Decimal("40000.00") and project.currency == "KES"
    assert project.eligibility == {"all": [AGE_18, KENYAN]}
    page = response.content.decode()
    assert "Draft “Dairy goats for Nakuru smallholders” saved." in page
    assert "Age at least 18 (from an Age credential)" in page
    assert "Country of citizenship is one of Kenya (from a Citizenship credential)" in page
    assert "5,000.00 KES to 40,000.00 KES" in page and "6 to 18 months" in page
    # Juma is an agent: no lifecycle buttons, a word on who can.
    assert 'action="' + _move(project, "publish") not in page
    assert "Only admins of Kijani Microfinance publish" in page


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"min_amount": "50000"}, "max_amount", "The largest loan cannot be below the smallest."),
        ({"min_amount": "5000.555"}, "min_amount", "KES amounts have at most 2 decimals."),
        ({"min_amount": "5000.5555"}, "min_amount", "Ensure that there are no more than 3"),
        ({"min_amount": "5000.55", "currency": "UGX"}, "min_amount", "at most 0 decimals"),
        ({"annual_rate": "eighteen"}, "annual_rate", "Enter a number."),
        ({"annual_rate": "120"}, "annual_rate", "A percentage between 0 and 100."),
        ({"grace_periods": "6"}, "grace_periods", "shorter than the shortest loan"),
        ({"ends_on": "2020-01-01"}, "ends_on", "cannot come before the start date"),
        ({"currency": "XAU"}, "currency", "Select a valid choice"),
        ({"name": " "}, "name", "required"),
        ({"eligibility": "{not json"}, "eligibility", "not valid JSON"),
        (
            {"eligibility": json.dumps({"all": [{**AGE_18, "value": "eighteen"}]})},
            "eligibility",
            "Rule 1 (Age): the value must be a whole number of years",
        ),
    ],
)
def test_bad_terms_show_by_field_and_nothing_is_stored(client, juma, changes, field, message):
    client.force_login(juma)

    response = client.post(NEW, _form(**changes))

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert 'class="field has-error"' in response.content.decode()
    assert not Project.objects.exists()
    assert not ProjectEvent.objects.exists()


def test_juma_edits_his_draft_until_it_is_published(client, juma, amina):
    client.force_login(juma)
    client.post(NEW, _form())
    project = Project.objects.get()

    editor = client.get(_edit(project)).content.decode()
    assert 'value="Dairy goats for Nakuru smallholders"' in editor
    assert "age_at_least" in editor  # the criteria, for the builder and the fallback textarea
    response = client.post(_edit(project), _form(name="Dairy goats, second round", max_amount=""))
    assert response.status_code == 200  # a required field left empty
    assert "This field is required." in response.context["form"].errors["max_amount"]
    client.post(_edit(project), _form(name="Dairy goats, second round", eligibility=""))
    project.refresh_from_db()
    assert (project.name, project.eligibility, project.status) == (
        "Dairy goats, second round",
        {},
        "draft",
    )

    services.project_publish(actor=amina, project=project)
    response = client.get(_edit(project), follow=True)
    assert response.redirect_chain == [(_detail(project), 302)]
    assert "Published terms do not change" in response.content.decode()
    client.post(_edit(project), _form(name="Sneaky"))
    project.refresh_from_db()
    assert project.name == "Dairy goats, second round"


# --- pictures -------------------------------------------------------------------------------------


def test_a_picture_is_stored_as_jpeg_and_served_once_published(client, juma, amina):
    client.force_login(juma)
    client.post(NEW, {**_form(), "image": _png()})
    project = Project.objects.get()
    assert project.image_type == "image/jpeg"

    staff_copy = client.get(reverse("projects:image", args=[project.pk]))
    assert staff_copy.status_code == 200 and staff_copy["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(staff_copy.content)).format == "JPEG"
    assert client.get(_image(project)).status_code == 404  # a draft's picture is private

    services.project_publish(actor=amina, project=project)
    client.logout()
    served = client.get(_image(project))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.content)).size == (40, 30)
    assert "public" in served["Cache-Control"] and "max-age=3600" in served["Cache-Control"]
    again = client.get(_image(project), HTTP_IF_NONE_MATCH=served["ETag"])
    assert again.status_code == 304
    assert f'src="{_image(project)}"' in client.get(_page(project)).content.decode()


def test_a_project_without_a_picture_has_no_image(client, juma, amina):
    project = _published(juma, amina)
    assert client.get(_image(project)).status_code == 404


@pytest.mark.parametrize(
    "upload, message",
    [
        (
            SimpleUploadedFile("goats.png", b"not a picture at all", content_type="image/png"),
            "This file is not an image we can read.",
        ),
        (
            SimpleUploadedFile("huge.png", b"\x89PNG" + b"0" * MAX_IMAGE_BYTES),
            "The image is larger than 2 MB.",
        ),
    ],
)
def test_a_file_that_is_not_a_small_image_is_refused(client, juma, upload, message):
    client.force_login(juma)

    response = client.post(NEW, {**_form(), "image": upload})

    assert response.status_code == 200
    assert message in response.context["form"].errors["image"]
    assert not Project.objects.exists()


# --- the lifecycle from the project's page --------------------------------------------------------


def test_amina_publishes_pauses_resumes_amends_and_closes_from_the_page(client, juma, amina):
    draft = services.project_create(actor=juma, terms=goat_terms())
    client.force_login(amina)

    page = client.get(_detail(draft)).content.decode()
    assert f'action="{_move(draft, "publish")}"' in page
    response = client.post(_move(draft, "publish"), follow=True)
    draft.refresh_from_db()
    assert (draft.status, draft.version) == ("published", 1)
    page = response.content.decode()
    assert "is published (version 1)" in page
    assert f'action="{_move(draft, "pause")}"' in page
    assert f'action="{_move(draft, "publish")}"' not in page
    assert "Draft → Open for applications" in page

    client.post(_move(draft, "pause"), {"reason": "Vet shortage"})
    client.post(_move(draft, "resume"))
    ends = draft.ends_on + timedelta(days=30)
    response = client.post(
        reverse("projects:amend", args=[draft.pk]),
        {"target_amount": "750000", "ends_on": ends.isoformat()},
        follow=True,
    )
    draft.refresh_from_db()
    assert (draft.status, draft.version, draft.target_amount, draft.ends_on) == (
        "published",
        4,
        Decimal("750000.00"),
        ends,
    )
    page = response.content.decode()
    assert "Vet shortage" in page and "→ 750000" in page

    lower = client.post(reverse("projects:amend", args=[draft.pk]), {"target_amount": "1000"})
    assert lower.status_code == 200
    assert "The target can only be raised." in lower.context["amend_form"].errors["target_amount"]
    client.post(_move(draft, "close"), {"reason": "Season over"})
    draft.refresh_from_db()
    assert (draft.status, draft.version, draft.close_reason) == ("closed", 5, "by_hand")
    page = client.get(_detail(draft)).content.decode()
    assert "Closed on" in page and 'action="' + _move(draft, "resume") not in page


def test_a_refused_move_says_why_and_changes_nothing(client, juma, amina):
    draft = services.project_create(
        actor=juma,
        terms=goat_terms(
            starts_on=timezone.localdate() - timedelta(days=20),
            ends_on=timezone.localdate() - timedelta(days=1),
        ),
    )
    client.force_login(amina)

    response = client.post(_move(draft, "publish"), follow=True)

    assert "Applications close on: The end date has passed; extend it first." in (
        response.content.decode()
    )
    draft.refresh_from_db()
    assert (draft.status, draft.version) == ("draft", 0)
    pause = client.post(_move(draft, "pause"), follow=True)
    assert "A draft project cannot become paused." in pause.content.decode()
    draft.refresh_from_db()
    assert (draft.status, draft.version) == ("draft", 0)


def test_juma_may_not_publish_a_post_from_an_agent_is_403(client, juma):
    draft = services.project_create(actor=juma, terms=goat_terms())
    client.force_login(juma)

    for move in ("publish", "pause", "resume", "close"):
        assert client.post(_move(draft, move)).status_code == 403
    assert client.post(reverse("projects:amend", args=[draft.pk])).status_code == 403
    draft.refresh_from_db()
    assert (draft.status, draft.version) == ("draft", 0)


def test_another_organizations_admin_gets_404(client, juma):
    draft = services.project_create(actor=juma, terms=goat_terms())
    umoja_admin = StaffFactory(
        role=Role.ORIGINATOR_ADMIN, organization=OrganizationFactory(name="Umoja Credit")
    )
    client.force_login(umoja_admin)

    for url in (_detail(draft), _edit(draft), reverse("projects:image", args=[draft.pk])):
        assert client.get(url).status_code == 404
    assert client.post(_move(draft, "publish")).status_code == 404
    assert client.get(_page(draft)).status_code == 404  # a draft is not public
    assert draft.pk not in [p.pk for p in client.get(LIST).context["page"].object_list]
    draft.refresh_from_db()
    assert draft.status == "draft"


@pytest.mark.parametrize("persona", ["wanjiru", "ines"])
def test_borrowers_and_investors_get_403_on_staff_pages(client, juma, persona, request):
    draft = services.project_create(actor=juma, terms=goat_terms())
    client.force_login(request.getfixturevalue(persona))

    for url in (LIST, NEW, _detail(draft), _edit(draft)):
        assert client.get(url).status_code == 403
    assert client.post(_move(draft, "publish")).status_code == 403
    preview = client.post(PREVIEW, {"criteria": {"all": [AGE_18]}}, content_type="application/json")
    assert preview.status_code == 403


def test_signed_out_people_are_sent_to_sign_in(client, juma):
    draft = services.project_create(actor=juma, terms=goat_terms())
    for url in (LIST, NEW, _detail(draft), BORROW_LIST):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_staff_list_filters_by_status(client, juma, amina):
    draft = services.project_create(actor=juma, terms=goat_terms(name="Still a draft"))
    published = _published(juma, amina, name="Open goats")
    client.force_login(juma)

    everything = client.get(LIST)
    assert {p.pk for p in everything.context["page"].object_list} == {draft.pk, published.pk}
    page = everything.content.decode()
    assert "Open for applications" in page and "500,000.00 KES" in page
    only_open = client.get(LIST, {"status": "published"}).context["page"].object_list
    assert [p.pk for p in only_open] == [published.pk]
    # A wrong value in the address filters nothing.
    assert client.get(LIST, {"status": "nonsense"}).context["page"].paginator.count == 2


def test_the_dashboard_and_the_navigation_lead_to_the_projects(client, juma, wanjiru):
    services.project_create(actor=juma, terms=goat_terms())
    client.force_login(juma)
    home = client.get(reverse("staff:home")).content.decode()
    assert f'href="{LIST}"' in home and '<span class="stat-value">1</span> drafts' in home

    client.force_login(wanjiru)
    borrower_home = client.get(reverse("borrow:home")).content.decode()
    assert f'<a href="{BORROW_LIST}"' in borrower_home
    listed = client.get(BORROW_LIST).content.decode()
    assert f'<a href="{BORROW_LIST}" aria-current="page">Projects</a>' in listed


# --- the criteria builder's live preview ----------------------------------------------------------


def _preview(client, criteria, claims=None, issuers=None):
    body = {"criteria": criteria, "claims": claims or {}, "issuers": issuers or {}}
    return client.post(PREVIEW, body, content_type="application/json")


def test_the_preview_says_met_not_met_and_missing_rule_by_rule(client, juma):
    client.force_login(juma)
    criteria = {"all": [AGE_18, KENYAN]}

    adult = _preview(client, criteria, {"age": {"birthDate": _born(30)}, "citizenship": {}})
    assert adult.status_code == 200
    answer = adult.json()
    assert answer["eligible"] is False
    first, second = answer["rules"]
    assert (first["number"], first["status"], first["label"]) == (1, "met", "Met")
    assert first["reason"] == "Age 30 is at least 18"
    assert (second["status"], second["label"]) == ("missing_claim", "Missing claim")
    assert answer["needed"] == {"citizenship": ["citizenship"]}
    assert answer["description"][0] == "Age at least 18 (from an Age credential)"

    child = _preview(client, criteria, {"age": {"birthDate": _born(12)}}).json()
    assert [r["status"] for r in child["rules"]] == ["not_met", "missing_credential"]
    assert child["rules"][0]["reason"] == "Age 12 is below 18"
    assert child["rules"][1]["reason"] == "You need a Citizenship credential"

    kenyan = {"age": {"birthDate": _born(18)}, "citizenship": {"citizenship": "KE"}}
    assert _preview(client, criteria, kenyan).json()["eligible"] is True


def test_the_preview_refuses_criteria_that_cannot_be_used(client, amina):
    client.force_login(amina)

    bad = _preview(client, {"all": [{**AGE_18, "op": "in"}, {"credential": "pets"}]})
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert any(e.startswith('Rule 1 (Age): "in" does not apply to Date of birth') for e in errors)
    assert any(e.startswith("Rule 2: unknown credential type 'pets'") for e in errors)
    assert _preview(client, None).status_code == 400
    assert _preview(client, {"all": []}).json()["errors"]
    not_json = client.post(PREVIEW, "{", content_type="application/json")
    assert not_json.status_code == 400 and not_json.json() == {
        "errors": ["The request is not JSON."]
    }
    assert client.get(PREVIEW).status_code == 405


def test_the_preview_checks_the_issuers_a_project_accepts(client, juma):
    client.force_login(juma)
    accepted = "did:key:z6MkAcceptedIssuer"
    criteria = {"all": [AGE_18], "issuers": {"age": [accepted]}}
    claims = {"age": {"birthDate": _born(40)}}

    assert _preview(client, criteria, claims, {"age": accepted}).json()["eligible"] is True
    other = _preview(client, criteria, claims, {"age": "did:key:z6MkSomeoneElse"}).json()
    assert other["rules"][0]["status"] == "missing_credential"
    assert "not from an issuer this project accepts" in other["rules"][0]["reason"]


# --- the borrower's list --------------------------------------------------------------------------


@pytest.fixture
def open_projects(juma, amina):
    """Three open projects: goats (age 18+ and Kenyan, KES 5,000-40,000 over 6-18 months),
    seeds (no criteria, UGX), and land (2+ hectares, KES 50,000-200,000)."""
    goats = _published(juma, amina)
    seeds = _published(
        juma,
        amina,
        name="Bean seed before the rains",
        currency="UGX",
        target_amount=Decimal("90000000"),
        min_amount=Decimal("100000"),
        max_amount=Decimal("2000000"),
        min_duration=60,
        max_duration=180,
        repayment_frequency="bullet",
        interest_method="flat",
        grace_periods=0,
        fee_fixed=Decimal("0"),
        min_ticket=Decimal("0"),
        eligibility={},
    )
    land = _published(
        juma,
        amina,
        name="Drip irrigation",
        min_amount=Decimal("50000"),
        max_amount=Decimal("200000"),
        target_amount=Decimal("2000000"),
        eligibility={
            "all": [
                {"credential": "land_size", "claim": "landSizeHectares", "op": ">=", "value": "2"}
            ]
        },
    )
    return goats, seeds, land


def _listed(response) -> list:
    return [offer.project for offer in response.context["page"].object_list]


def test_wanjiru_with_age_and_citizenship_qualifies(client, open_projects, wanjiru, amina, issue):
    goats, seeds, land = open_projects
    issue(amina, wanjiru, "age", {"birthDate": "1990-02-03"})
    issue(amina, wanjiru, "citizenship", {"citizenship": "KE"})
    client.force_login(wanjiru)

    everything = client.get(BORROW_LIST)
    assert set(_listed(everything)) == {goats, seeds, land}
    qualified = client.get(BORROW_LIST, {"qualify": "on"})
    assert _listed(qualified) == [seeds, goats]  # newest first
    page = qualified.content.decode()
    assert "2 projects you qualify for" in page
    assert page.count('data-eligibility="yes"') == 2
    assert "You qualify: no credentials needed" in page
    assert "Drip irrigation" not in page
    offers = {o.project: o for o in everything.context["page"].object_list}
    assert str(offers[land].needs[0]) == "Land size credential (land size)"


def test_otieno_without_credentials_sees_what_he_needs(client, open_projects, otieno):
    goats, seeds, _ = open_projects
    client.force_login(otieno)

    page = client.get(BORROW_LIST).content.decode()
    assert (
        "You still need: Age credential (date of birth); "
        "Citizenship credential (country of citizenship)"
    ) in page
    assert _listed(client.get(BORROW_LIST, {"qualify": "on"})) == [seeds]
    goats_page = client.get(_page(goats)).content.decode()
    assert goats_page.count('data-status="missing_credential"') == 2
    assert "You need an Age credential" in goats_page
    assert f'href="{reverse("borrow:credentials")}"' in goats_page


def test_the_borrower_filters_by_amount_duration_and_currency(client, open_projects, otieno):
    goats, seeds, land = open_projects
    client.force_login(otieno)

    assert set(_listed(client.get(BORROW_LIST, {"amount": "60000"}))) == {land}
    assert set(_listed(client.get(BORROW_LIST, {"amount": "20000"}))) == {goats}
    assert set(_listed(client.get(BORROW_LIST, {"duration": "90"}))) == {seeds}
    assert set(_listed(client.get(BORROW_LIST, {"currency": "UGX"}))) == {seeds}
    wrong = client.get(BORROW_LIST, {"amount": "lots", "currency": "EUR"})
    assert "Enter a number." in wrong.context["form"].errors["amount"]
    assert set(_listed(wrong)) == {goats, seeds, land}  # a wrong value filters nothing


def test_paused_closed_and_draft_projects_are_not_listed(client, juma, amina, otieno):
    paused = _published(juma, amina, name="Paused")
    services.project_pause(actor=amina, project=paused)
    closed = _published(juma, amina, name="Closed")
    services.project_close(actor=amina, project=closed)
    services.project_create(actor=juma, terms=goat_terms(name="Draft"))
    client.force_login(otieno)

    response = client.get(BORROW_LIST)
    assert _listed(response) == []
    assert "No project is taking applications" in response.content.decode()
    assert client.get(_page(paused)).status_code == 200  # still readable
    assert "Applications are paused" in client.get(_page(paused)).content.decode()


# --- the project page -----------------------------------------------------------------------------


def test_anyone_reads_a_published_project(client, juma, amina):
    project = _published(juma, amina)

    response = client.get(_page(project))

    assert response.status_code == 200
    page = response.content.decode()
    for shown in (
        "Dairy goats for Nakuru smallholders",
        "Kijani Microfinance",
        "Open for applications",
        "5,000.00 KES to 40,000.00 KES",
        "6 to 18 months",
        "18% a year, declining balance, equal installments",
        "The first 1 month: interest only",
        "1.5% of the loan, due on the day of payout",
        "Age at least 18 (from an Age credential)",
        "Sign in</a> as a borrower",
    ):
        assert shown in page, shown
    assert response.context["preview"] is None


def test_drafts_are_404_except_to_their_organizations_staff(client, juma, wanjiru, ines):
    draft = services.project_create(actor=juma, terms=goat_terms())

    assert client.get(_page(draft)).status_code == 404
    for persona in (wanjiru, ines):
        client.force_login(persona)
        assert client.get(_page(draft)).status_code == 404
    client.force_login(juma)
    page = client.get(_page(draft)).content.decode()
    assert "A draft: only Kijani Microfinance's staff see this page" in page


def test_the_schedule_preview_matches_the_schedule_math(client, juma, amina):
    project = _published(juma, amina)

    response = client.get(_page(project), {"amount": "12000", "duration": "12"})

    shown = response.context["preview"]
    expected = selectors.schedule_preview(
        project=project, amount=Decimal("12000"), duration=12, disbursed_on=timezone.localdate()
    )
    assert shown.rows == expected.rows
    assert (shown.total_interest, shown.total_fees, shown.total_cost) == (
        expected.total_interest,
        expected.total_fees,
        expected.total_cost,
    )
    assert len(expected.rows) == 13  # the fee, then 12 monthly installments
    page = response.content.decode()
    assert f"{expected.total_cost:,.2f} KES" in page
    assert f"{expected.total_repaid:,.2f} KES" in page
    for row in expected.rows:
        assert f'<tr data-row="{row.number}">' in page
        assert f"{row.total_due:,.2f}" in page
        assert row.due_on.isoformat() in page
    assert f"{expected.rows[1].balance:,.2f}" in page


@pytest.mark.parametrize(
    "query, field, message",
    [
        ({"amount": "100", "duration": "12"}, "amount", "Between 5000"),
        ({"amount": "50000", "duration": "12"}, "amount", "Between 5000"),
        ({"amount": "12000", "duration": "36"}, "duration", "Between 6 and 18"),
        ({"amount": "12000", "duration": "0"}, "duration", "greater than or equal to 1"),
        ({"amount": "a lot", "duration": "12"}, "amount", "Enter a number."),
        ({"amount": "12000"}, "duration", "This field is required."),
    ],
)
def test_the_schedule_preview_explains_out_of_range_input(
    client, juma, amina, query, field, message
):
    project = _published(juma, amina)

    response = client.get(_page(project), query)

    assert response.status_code == 200
    assert response.context["preview"] is None
    assert message in " ".join(response.context["form"].errors[field])
    assert 'class="field has-error"' in response.content.decode()


def test_wanjiru_sees_her_eligibility_rule_by_rule(client, juma, amina, wanjiru, issue):
    project = _published(juma, amina)
    issue(amina, wanjiru, "age", {"birthDate": "1990-02-03"})
    client.force_login(wanjiru)

    page = client.get(_page(project)).content.decode()
    assert 'data-rule="1" data-status="met"' in page
    assert 'data-rule="2" data-status="missing_credential"' in page
    assert "You still need: Citizenship credential (country of citizenship)" in page

    issue(amina, wanjiru, "citizenship", {"citizenship": "KE"})
    page = client.get(_page(project)).content.decode()
    assert 'data-eligibility="yes"' in page and "You qualify" in page
    assert page.count('data-status="met"') == 2


# --- constant queries -----------------------------------------------------------------------------


def _bulk_projects(organization, creator, count: int, status=ProjectStatus.DRAFT) -> None:
    """COUNT goat projects at once (the services would take minutes for 10,000)."""
    published = status != ProjectStatus.DRAFT
    Project.objects.bulk_create(
        [
            Project(
                organization=organization,
                created_by=creator,
                **goat_terms(name=f"Project {n}"),
                status=status,
                version=1 if published else 0,
                published_at=timezone.now() if published else None,
            )
            for n in range(count)
        ],
        batch_size=1000,
    )


def test_the_staff_list_costs_the_same_queries_for_10_and_10000_projects(client, juma):
    _bulk_projects(juma.organization, juma, 10)
    client.force_login(juma)
    few = page_queries(client, LIST)

    _bulk_projects(juma.organization, juma, 9_990)
    many = page_queries(client, LIST)

    assert many == few
    assert page_queries(client, f"{LIST}?page=7&status=draft") <= few
    assert len(client.get(LIST).context["page"].object_list) == 25


@pytest.mark.parametrize("qualify", [False, True])
def test_the_borrower_list_costs_the_same_queries_for_10_and_10000_projects(
    client, juma, amina, wanjiru, issue, qualify
):
    issue(amina, wanjiru, "age", {"birthDate": "1990-02-03"})
    issue(amina, wanjiru, "citizenship", {"citizenship": "KE"})
    _bulk_projects(juma.organization, juma, 10, status=ProjectStatus.PUBLISHED)
    client.force_login(wanjiru)
    url = f"{BORROW_LIST}?qualify=on" if qualify else BORROW_LIST
    few = page_queries(client, url)

    _bulk_projects(juma.organization, juma, 9_990, status=ProjectStatus.PUBLISHED)
    many = page_queries(client, url)

    assert many == few
    response = client.get(BORROW_LIST)
    assert response.context["page"].paginator.count == 10_000
    assert len(response.context["page"].object_list) == 25
