"""The projects API: staff draft and run projects, anyone reads the open offers and previews
what a loan costs, and every answer has the shape the OpenAPI schema documents."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.projects import selectors
from apps.projects.models import Project, ProjectStatus
from tests.openapi import schema_errors

from .conftest import goat_terms


@pytest.fixture
def as_():
    def client_for(person=None):
        client = APIClient()
        if person is not None:
            client.force_authenticate(person)
        return client

    return client_for


def _payload(**changes) -> dict:
    terms = goat_terms(**changes)
    return json.loads(json.dumps(terms, default=str))


def test_juma_drafts_amina_publishes_and_anyone_reads_the_offer(as_, juma, amina):
    created = as_(juma).post(reverse("api-staff-projects"), _payload(), format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert as_().get(reverse("api-project", args=[pk])).status_code == 404  # a draft is private

    refused = as_(juma).post(reverse("api-staff-project-move", args=[pk, "publish"]))
    published = as_(amina).post(reverse("api-staff-project-move", args=[pk, "publish"]))

    assert refused.status_code == 403
    assert published.status_code == 200 and published.json()["status"] == "published"
    offers = as_().get(reverse("api-projects")).json()
    assert [p["id"] for p in offers["results"]] == [pk]
    assert as_().get(reverse("api-project", args=[pk])).json()["version"] == 1


def test_the_open_offers_are_kept_until_a_project_changes(as_, juma, amina):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.projects.services import project_create, project_pause, project_publish

    goats = project_publish(actor=amina, project=project_create(actor=juma, terms=goat_terms()))
    url = reverse("api-projects")
    first = as_().get(url)
    with CaptureQueriesContext(connection) as again:
        second = as_().get(url)

    assert [p["id"] for p in first.json()["results"]] == [str(goats.pk)]
    assert second.content == first.content and len(again) == 0
    assert second["Content-Type"] == "application/json"

    project_pause(actor=amina, project=goats)
    assert as_().get(url).json()["results"] == []


def test_the_open_offers_are_read_without_looking_up_who_asks(as_, juma, amina):
    """A public answer, the same for everyone: a stale token or a signed-in session changes
    nothing, and costs no query for the person."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.projects.services import project_create, project_publish

    project_publish(actor=amina, project=project_create(actor=juma, terms=goat_terms()))
    url = reverse("api-projects")
    anyone = as_().get(url)
    stale = APIClient(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    signed_in = APIClient()
    signed_in.force_login(juma)

    with CaptureQueriesContext(connection) as queries:
        answers = [stale.get(url), signed_in.get(url)]

    assert [a.status_code for a in answers] == [200, 200]
    assert all(a.content == anyone.content for a in answers) and len(queries) == 0


def test_a_kept_page_of_offers_is_answered_before_drf_as_drf_answers_it(as_, juma, amina):
    from apps.projects.api import OpenProjectsApi
    from apps.projects.services import project_create, project_publish

    project_publish(actor=amina, project=project_create(actor=juma, terms=goat_terms()))
    url = reverse("api-projects") + "?currency=KES"
    built = APIClient().get(url)  # through DRF, which keeps it
    with mock.patch.object(OpenProjectsApi, "dispatch", wraps=None) as drf:
        kept = APIClient().get(url)
        as_json = APIClient().get(url, HTTP_ACCEPT="application/json")

    assert not drf.called
    for answer in (kept, as_json):
        assert answer.status_code == 200 and answer.content == built.content
        for header in ("Content-Type", "Allow", "Vary"):
            assert answer[header] == built[header], header


def test_what_is_not_a_plain_json_read_of_the_offers_goes_through_drf(as_, juma, amina):
    from apps.projects.services import project_create, project_publish

    project_publish(actor=amina, project=project_create(actor=juma, terms=goat_terms()))
    url = reverse("api-projects")
    APIClient().get(url)  # kept now

    browser = APIClient().get(url, HTTP_ACCEPT="text/html,application/xhtml+xml")
    named = APIClient().get(url + "?format=api")
    bad = APIClient().get(url + "?duration=twelve")

    assert browser["Content-Type"].startswith("text/html") and b"<html" in browser.content
    assert named["Content-Type"].startswith("text/html")
    assert bad.status_code == 400 and "duration" in bad.json()["error"]["fields"]


def test_a_change_that_bypasses_save_shows_once_the_cached_time_expires(
    as_, juma, amina, monkeypatch
):
    from django.core.cache import cache

    from apps.projects.services import project_create, project_publish

    goats = project_publish(actor=amina, project=project_create(actor=juma, terms=goat_terms()))
    url = reverse("api-projects")
    kept, keep = [], selectors.cache.set
    monkeypatch.setattr(
        selectors.cache,
        "set",
        lambda key, value, timeout: (
            kept.append((key, timeout)) or keep(key, value, timeout=timeout)
        ),
    )
    assert len(as_().get(url).json()["results"]) == 1

    Project.objects.filter(pk=goats.pk).update(
        status=ProjectStatus.PAUSED, updated_at=timezone.now()
    )
    stale = as_().get(url).json()["results"]
    cache.delete(selectors.PROJECTS_CHANGED_KEY)  # what the cache does once the timeout passes

    stamps = [timeout for key, timeout in kept if key == selectors.PROJECTS_CHANGED_KEY]
    assert stamps == [selectors.PROJECTS_CHANGED_SECONDS]
    assert len(stale) == 1  # the time of the last change came from the cache
    assert as_().get(url).json()["results"] == []


def test_a_change_committed_while_the_time_was_read_is_forgotten_after_the_commit(
    amina, juma, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from apps.projects.services import project_create, project_publish

    with django_capture_on_commit_callbacks(execute=True):
        project_publish(actor=amina, project=project_create(actor=juma, terms=goat_terms()))
        read_in_between = selectors.projects_changed()
        assert cache.get(selectors.PROJECTS_CHANGED_KEY) == read_in_between

    assert cache.get(selectors.PROJECTS_CHANGED_KEY) is None


def test_a_change_is_kept_when_the_cache_cannot_forget_the_time(juma, amina, redis_out_of_reach):
    from apps.projects.services import project_create, project_pause, project_publish

    goats = project_publish(actor=amina, project=project_create(actor=juma, terms=goat_terms()))
    paused = project_pause(actor=amina, project=goats)

    assert paused.status == ProjectStatus.PAUSED
    assert Project.objects.get(pk=goats.pk).status == ProjectStatus.PAUSED


def test_bad_terms_come_back_by_field(as_, juma):
    answer = as_(juma).post(
        reverse("api-staff-projects"),
        _payload(min_amount="50000.00", currency="XYZ"),
        format="json",
    )

    assert answer.status_code == 400
    fields = answer.json()["error"]["fields"]
    assert set(fields) == {"currency", "max_amount"}
    assert fields["max_amount"] == ["The largest loan cannot be below the smallest."]
    assert not Project.objects.exists()


def test_the_schedule_preview_is_public_and_checks_the_range(as_, goat_draft, amina):
    from apps.projects.services import project_publish

    project_publish(actor=amina, project=goat_draft)
    url = reverse("api-project-schedule", args=[goat_draft.pk])

    answer = as_().get(url, {"amount": "12000.00", "duration": 12, "disbursed_on": "2026-12-01"})

    assert answer.status_code == 200, answer.content
    body = answer.json()
    expected = selectors.schedule_preview(
        project=goat_draft,
        amount=Decimal("12000.00"),
        duration=12,
        disbursed_on=goat_draft.starts_on.__class__(2026, 12, 1),
    )
    assert body["total_interest"] == f"{expected.total_interest:.3f}"
    assert len(body["rows"]) == len(expected.rows)
    assert sum(Decimal(r["principal"]) for r in body["rows"]) == Decimal("12000")
    out_of_range = as_().get(url, {"amount": "100.00", "duration": 12})
    assert out_of_range.status_code == 400
    assert "amount" in out_of_range.json()["error"]["fields"]


def test_only_the_target_and_end_date_are_amended(as_, goat_draft, amina):
    from apps.projects.services import project_publish

    project_publish(actor=amina, project=goat_draft)
    url = reverse("api-staff-project-amend", args=[goat_draft.pk])
    later = (goat_draft.ends_on + timedelta(days=10)).isoformat()

    lowered = as_(amina).post(url, {"target_amount": "100.00"}, format="json")
    extended = as_(amina).post(url, {"ends_on": later}, format="json")
    edited = as_(amina).patch(
        reverse("api-staff-project", args=[goat_draft.pk]), {"annual_rate": "30"}, format="json"
    )

    assert lowered.status_code == 400
    assert extended.status_code == 200 and extended.json()["version"] == 2
    assert edited.status_code == 400


def test_answers_have_the_shapes_the_openapi_schema_documents(as_, amina, goat_draft):
    from apps.projects.services import project_publish

    project_publish(actor=amina, project=goat_draft)
    anyone = as_()
    answers = [
        ("/api/projects/", "get", anyone.get(reverse("api-projects"))),
        ("/api/projects/{id}/", "get", anyone.get(reverse("api-project", args=[goat_draft.pk]))),
        (
            "/api/projects/{id}/schedule/",
            "get",
            anyone.get(
                reverse("api-project-schedule", args=[goat_draft.pk]),
                {"amount": "9000.00", "duration": 6},
            ),
        ),
        ("/api/staff/projects/", "get", as_(amina).get(reverse("api-staff-projects"))),
    ]
    for path, method, answer in answers:
        assert answer.status_code == 200, (path, answer.content)
        assert schema_errors(anyone, path, answer, method) == [], path
