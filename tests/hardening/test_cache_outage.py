"""Redis out of reach (stopped, or cut off by the network) while the node serves: the node
answers from its database (apps/node/cache.py). Every person still reaches what the matrix lets
them and nothing else, signs in and out, and moves money as before, only slower; a repayment is
still applied once, and a session signed out meanwhile does not come back for long.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.test import Client, override_settings
from django.utils import timezone

from apps.applications.models import Repayment
from apps.funding.models import Commitment
from apps.ledger.models import OutboxEntry
from apps.node.network import free_port
from growr_site.settings.base import redis_caches
from tests.factories import PASSWORD
from tests.hardening.test_authorization_matrix import (
    EVERYONE,
    ROUTES,
    outcome,
    path_for,
    rule_for,
)

pytestmark = pytest.mark.django_db


def _signed_in(person) -> Client:
    browser = Client()
    answer = browser.post("/accounts/login/", {"username": person.email, "password": PASSWORD})
    assert answer.status_code == 302, answer.content.decode()[:500]
    return browser


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_with_redis_out_of_reach_each_person_still_reaches_what_the_matrix_lets_them(
    route, world, client_as, redis_out_of_reach
):
    rule = rule_for(route)
    path = path_for(route, world)
    wrong = []
    for person in EVERYONE:
        got = outcome(client_as(person).get(path), path)
        if got not in rule.get[person]:
            wrong.append(f"GET {path} as {person}: {got}, expected {sorted(rule.get[person])}")

    assert wrong == [], "\n".join(wrong)


def test_juma_signs_in_records_a_repayment_once_and_signs_out_while_redis_is_down(
    world, redis_out_of_reach, django_capture_on_commit_callbacks
):
    loan = world.active_loan
    browser = _signed_in(world.juma)
    assert browser.get("/staff/").status_code == 200
    record = f"/staff/loans/{loan.pk}/repayments/"
    payment = {
        "amount": "500",
        "reference": "MPESA-R2",
        "rail": "mobile_money",
        "paid_on": timezone.localdate().isoformat(),
    }
    published = OutboxEntry.objects.filter(book="payments").count()

    # What follows each commit runs, and finds no Redis: the live news to Wanjiru. (The books'
    # flush joins the one the world's own transaction holds; test_ledger_read_cache's outbox
    # test sends one to no broker.)
    with django_capture_on_commit_callbacks(execute=True):
        first = browser.post(record, payment, follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        again = browser.post(record, payment, follow=True)

    assert "Payment MPESA-R2 of 500.00 KES applied." in first.content.decode()
    assert "was recorded already (500.00 KES): it is not applied twice" in again.content.decode()
    assert Repayment.objects.filter(loan=loan, reference="MPESA-R2").count() == 1
    assert OutboxEntry.objects.filter(book="payments").count() == published + 1

    session_key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert browser.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=session_key).exists()
    assert browser.get("/staff/")["Location"].startswith("/accounts/login/")


def test_ines_commits_once_from_a_double_submitted_page_while_redis_is_down(
    world, redis_out_of_reach, django_capture_on_commit_callbacks
):
    browser = _signed_in(world.ines)
    page = browser.get(f"/projects/{world.goats.pk}/").content.decode()
    form = {
        "amount": "2000",
        "request_id": re.search(r'name="request_id" value="([^"]+)"', page).group(1),
    }
    before = Commitment.objects.filter(investor=world.ines).count()

    with django_capture_on_commit_callbacks(execute=True):
        first = browser.post(f"/projects/{world.goats.pk}/commit/", form)
    with django_capture_on_commit_callbacks(execute=True):
        again = browser.post(f"/projects/{world.goats.pk}/commit/", form)

    assert first.status_code == again.status_code == 302
    assert Commitment.objects.filter(investor=world.ines).count() == before + 1


def test_a_session_signed_out_while_redis_was_cut_off_outlives_it_there_a_minute_at_most(world):
    """Redis cut off by the network (not restarted) still holds the session's copy when it
    comes back; the sign-out deleted the session from the database only."""
    if "sessions" not in settings.CACHES:
        pytest.skip("the node's sessions are in Redis only with REDIS_URL (CI sets it)")
    browser = _signed_in(world.pablo)
    session_key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    sessions = caches["sessions"]
    copy = sessions.make_and_validate_key("django.contrib.sessions.cached_db" + session_key)
    assert sessions.get("django.contrib.sessions.cached_db" + session_key) is not None

    with override_settings(CACHES=redis_caches(f"redis://127.0.0.1:{free_port()}/0")):
        assert browser.post("/accounts/logout/").status_code == 302

    assert not Session.objects.filter(session_key=session_key).exists()
    assert 0 < sessions._cache.get_client().ttl(copy) <= 60
    sessions.delete("django.contrib.sessions.cached_db" + session_key)
