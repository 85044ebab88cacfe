"""A project's life: Juma drafts, Amina publishes, pauses, resumes, amends and closes; every
change that goes public is a new version in the projects book, and every refused change leaves
the project and the book as they were."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.ledger.entries import decode_entry
from apps.ledger.models import Book, OutboxEntry
from apps.projects import services
from apps.projects.models import Project, ProjectEvent, ProjectStatus
from apps.projects.services import Amendment

from .conftest import goat_terms


def _book_versions(project) -> list[dict]:
    return [
        decode_entry(bytes(e.data))["value"]
        for e in OutboxEntry.objects.filter(book=Book.PROJECTS, key=f"project:{project.pk}")
    ]


def test_a_draft_stays_private_until_amina_publishes_it(goat_draft, amina):
    assert goat_draft.status == ProjectStatus.DRAFT
    assert _book_versions(goat_draft) == []

    published = services.project_publish(actor=amina, project=goat_draft)

    [entry] = _book_versions(published)
    assert (entry["version"], entry["status"]) == (1, "published")
    assert entry["terms"]["max_amount"] == "40000.00"
    assert entry["terms"]["page_url"].endswith(f"/projects/{published.pk}/")
    assert entry["eligibility"]["json_logic"]


def test_juma_drafts_but_may_not_publish(goat_draft, juma):
    with pytest.raises(PermissionDenied):
        services.project_publish(actor=juma, project=goat_draft)
    goat_draft.refresh_from_db()
    assert goat_draft.status == ProjectStatus.DRAFT


def test_borrowers_and_other_organizations_cannot_touch_projects(goat_draft, wanjiru):
    from tests.factories import OrganizationFactory, StaffFactory

    umoja_admin = StaffFactory(
        role="originator_admin", organization=OrganizationFactory(name="Umoja")
    )
    with pytest.raises(PermissionDenied):
        services.project_create(actor=wanjiru, terms=goat_terms())
    with pytest.raises(PermissionDenied):
        services.project_publish(actor=umoja_admin, project=goat_draft)


@pytest.mark.parametrize(
    ("path", "to"),
    [
        ([], "paused"),
        ([], "closed"),
        (["publish"], "published"),
        (["publish", "close"], "published"),
        (["publish", "close"], "paused"),
    ],
)
def test_refused_transitions_change_nothing(goat_draft, amina, path, to):
    steps = {"publish": services.project_publish, "close": services.project_close}
    for step in path:
        steps[step](actor=amina, project=goat_draft)
    goat_draft.refresh_from_db()
    before = (goat_draft.status, goat_draft.version, len(_book_versions(goat_draft)))
    move = {
        "paused": services.project_pause,
        "closed": services.project_close,
        "published": services.project_resume
        if goat_draft.status != "draft"
        else services.project_publish,
    }[to]

    with pytest.raises(ValidationError):
        move(actor=amina, project=goat_draft)

    goat_draft.refresh_from_db()
    assert (goat_draft.status, goat_draft.version, len(_book_versions(goat_draft))) == before


def test_every_allowed_transition_is_a_new_version(goat_draft, amina):
    services.project_publish(actor=amina, project=goat_draft)
    services.project_pause(actor=amina, project=goat_draft, reason="Rains delayed")
    services.project_resume(actor=amina, project=goat_draft)
    services.project_close(actor=amina, project=goat_draft)

    versions = _book_versions(goat_draft)
    assert [(v["version"], v["status"]) for v in versions] == [
        (1, "published"),
        (2, "paused"),
        (3, "published"),
        (4, "closed"),
    ]
    assert ProjectEvent.objects.filter(project=goat_draft).count() == 5  # created + 4


def test_published_terms_change_only_by_raising_the_target_or_extending(goat_draft, amina):
    services.project_publish(actor=amina, project=goat_draft)
    with pytest.raises(ValidationError, match="Published terms do not change"):
        services.project_update_draft(actor=amina, project=goat_draft, terms={"annual_rate": 30})
    with pytest.raises(ValidationError, match="only be raised"):
        services.project_amend(
            actor=amina, project=goat_draft, amendment=Amendment(target_amount=Decimal("1000"))
        )

    later = goat_draft.ends_on + timedelta(days=30)
    services.project_amend(
        actor=amina,
        project=goat_draft,
        amendment=Amendment(target_amount=Decimal("750000.00"), ends_on=later),
    )

    latest = _book_versions(goat_draft)[-1]
    assert (latest["version"], latest["terms"]["target_amount"]) == (2, "750000.00")
    assert latest["terms"]["ends_on"] == later.isoformat()
    assert latest["terms"]["annual_rate"] == "18"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"min_amount": Decimal("0")}, "min_amount"),
        ({"min_amount": Decimal("50000")}, "max_amount"),
        ({"max_amount": Decimal("600000")}, "target_amount"),
        ({"currency": "UGX", "min_amount": Decimal("5000.50")}, "min_amount"),
        ({"min_duration": 0}, "min_duration"),
        ({"min_duration": 20}, "max_duration"),
        ({"grace_periods": 6}, "grace_periods"),
        ({"annual_rate": Decimal("120")}, "annual_rate"),
        ({"annual_rate": "lots"}, "annual_rate"),
        ({"ends_on": timezone.localdate() - timedelta(days=400)}, "ends_on"),
        ({"name": "  "}, "name"),
        ({"eligibility": {"all": [{"credential": "horoscope", "op": "present"}]}}, "eligibility"),
    ],
)
def test_bad_terms_are_refused_by_field_and_nothing_is_stored(juma, changes, field):
    with pytest.raises(ValidationError) as refused:
        services.project_create(actor=juma, terms=goat_terms(**changes))

    assert field in refused.value.message_dict, refused.value.message_dict
    assert not Project.objects.exists()


def test_projects_past_their_end_date_close_by_themselves(goat_draft, amina):
    services.project_publish(actor=amina, project=goat_draft)
    yesterday = timezone.localdate() - timedelta(days=1)
    Project.objects.filter(pk=goat_draft.pk).update(starts_on=yesterday, ends_on=yesterday)

    assert services.projects_close_ended() == 1
    assert services.projects_close_ended() == 0

    goat_draft.refresh_from_db()
    assert (goat_draft.status, goat_draft.close_reason) == ("closed", "end_date")
    assert _book_versions(goat_draft)[-1]["status"] == "closed"


def test_a_funded_project_closes_on_its_target(goat_draft, amina):
    services.project_publish(actor=amina, project=goat_draft)

    services.project_close_funded(project=goat_draft)

    goat_draft.refresh_from_db()
    assert goat_draft.close_reason == "target"
