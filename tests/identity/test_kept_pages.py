"""The busiest signed-in pages are kept whole per person on a node with Redis: Juma (an agent of
Kijani) sees his dashboard and loan queue rendered once, and Amina (Kijani's admin) her own, never
his. Every answer carries a CSRF token of its own that signs out; a message waits for the next
page and shows once; Juma's new name and a notification to him show at once. Ines (an investor)
has the network's catalogue kept the same way. The session and the person are read in one round
trip while the browser's hint names the session's person; a wrong or broken hint changes
nothing but the time."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.middleware.csrf import CSRF_ALLOWED_CHARS, _unmask_cipher_token
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from apps.identity import kept_pages, services
from apps.identity.kept_pages import CSRF_TOKEN_PLACEHOLDER, masked_csrf_token
from apps.identity.middleware import PERSON_HINT_COOKIE
from apps.identity.models import User
from apps.identity.notifications import notify_user
from apps.node.cache import HeldCopies

HOME = "/staff/"
QUEUE = "/staff/loans/"
CATALOGUE = "/invest/projects/"


@pytest.fixture
def redis_like_node(settings, monkeypatch):
    """As on a node with Redis, whichever cache the tests run on: one cache for every process,
    and the sessions in it (settings: SESSION_ENGINE). This process holds no page yet."""
    settings.GROWR_CACHE_SHARED = True
    settings.SESSION_ENGINE = "apps.identity.sessions"
    cache.clear()
    monkeypatch.setattr(kept_pages, "held_pages", HeldCopies(budget=1024 * 1024))


def _signed_in(person: User) -> Client:
    browser = Client()
    browser.force_login(person)
    return browser


def _kept(browser: Client, path: str) -> str:
    """Visits PATH until it is kept: a person's first visits start the generations it is kept
    beside, and it is kept only beside generations read before it was rendered."""
    for _ in range(2):
        page, _ = _rendered(browser, path)
    return page


def _rendered(browser: Client, path: str) -> tuple[str, bool]:
    """The page at PATH, and whether it was rendered for this answer (not kept)."""
    response = browser.get(path)
    assert response.status_code == 200
    return response.content.decode(), bool(response.templates)


def _who(page: str) -> str:
    """Whom the header says is signed in."""
    return re.search(r'class="who">([^<]+)</a>', page)[1]


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]


@pytest.mark.parametrize("path", [HOME, QUEUE, f"{QUEUE}?state=to_review"])
def test_a_staff_page_is_rendered_once_per_person_and_asks_postgresql_nothing_after(
    redis_like_node, juma, amina, path
):
    juma_browser, amina_browser = _signed_in(juma), _signed_in(amina)
    assert _who(_kept(juma_browser, path)) == "Juma Otieno"

    with CaptureQueriesContext(connection) as kept_visit:
        again, rendered = _rendered(juma_browser, path)
    assert not rendered and not kept_visit.captured_queries
    assert _who(again) == "Juma Otieno"

    aminas, rendered = _rendered(amina_browser, path)
    assert rendered and _who(aminas) == "Amina Wekesa"


def test_the_catalogue_is_kept_per_investor(redis_like_node, ines, pablo):
    ines_browser = _signed_in(ines)
    _kept(ines_browser, CATALOGUE)
    page, rendered = _rendered(ines_browser, CATALOGUE)
    assert not rendered and _who(page) == "Ines Duarte"

    pablos, rendered = _rendered(_signed_in(pablo), CATALOGUE)
    assert rendered and _who(pablos) == "Pablo Ruiz"


def test_every_kept_answer_has_a_csrf_token_of_its_own_that_signs_out(redis_like_node, juma):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(juma)
    first = _kept(browser, HOME)
    kept, rendered = _rendered(browser, HOME)
    assert not rendered
    assert CSRF_TOKEN_PLACEHOLDER not in first + kept
    assert _csrf_token(first) != _csrf_token(kept)

    signed_out = browser.post("/accounts/logout/", {"csrfmiddlewaretoken": _csrf_token(kept)})

    assert signed_out.status_code == 302
    assert browser.get(HOME).status_code == 302  # to the login page


def test_a_message_waits_for_the_next_page_and_shows_once(redis_like_node, juma):
    browser = _signed_in(juma)
    _kept(browser, HOME)
    assert not _rendered(browser, HOME)[1]

    browser.post("/accounts/profile/", {"full_name": "Juma O. Otieno"})

    page, _ = _rendered(browser, HOME)
    assert "Your profile is saved." in page and _who(page) == "Juma O. Otieno"
    page, _ = _rendered(browser, HOME)
    assert "Your profile is saved." not in page and _who(page) == "Juma O. Otieno"


def test_the_persons_new_name_and_a_notification_show_at_once(redis_like_node, juma):
    browser = _signed_in(juma)
    _kept(browser, HOME)
    assert "<span data-unread>0</span>" in _rendered(browser, HOME)[0]

    services.user_profile_update(user=juma, full_name="Juma Baraka Otieno")
    assert _who(_rendered(browser, HOME)[0]) == "Juma Baraka Otieno"

    notify_user(user_id=juma.pk, kind="team", text="Baraka joined.")
    assert "<span data-unread>1</span>" in _rendered(browser, HOME)[0]


class _RoundTrips:
    """What a request asks of the cache, one name per call: on Redis each is a round trip.
    A call made inside another (a local cache's get_many asks get for each key) is not one."""

    def __init__(self, monkeypatch):
        self.calls: list[str] = []
        self._inside = False
        backend = type(caches["default"])
        for name in ("get", "get_many", "set", "add"):
            monkeypatch.setattr(backend, name, self._counted(name, getattr(backend, name)))

    def _counted(self, name, method):
        def counted(cache_self, *args, **kwargs):
            if self._inside:
                return method(cache_self, *args, **kwargs)
            self.calls.append(name)
            self._inside = True
            try:
                return method(cache_self, *args, **kwargs)
            finally:
                self._inside = False

        return counted


def test_the_session_and_the_person_are_read_in_one_round_trip(redis_like_node, juma, monkeypatch):
    browser = _signed_in(juma)
    _kept(browser, HOME)
    assert browser.cookies[PERSON_HINT_COOKIE].value == str(juma.pk)
    round_trips = _RoundTrips(monkeypatch)

    _, rendered = _rendered(browser, HOME)
    assert round_trips.calls == ["get_many"] and not rendered  # session, person and page

    round_trips.calls.clear()
    del browser.cookies[PERSON_HINT_COOKIE]
    _, rendered = _rendered(browser, HOME)
    assert round_trips.calls == ["get", "get_many"] and not rendered


def test_a_page_kept_by_another_process_costs_one_round_trip_more(
    redis_like_node, juma, monkeypatch
):
    """Where the page's version is kept is learnt by the process that kept it; another finds the
    page with the session and asks for its version after."""
    browser = _signed_in(juma)
    _kept(browser, HOME)
    _as_another_process(monkeypatch)
    round_trips = _RoundTrips(monkeypatch)

    _, rendered = _rendered(browser, HOME)
    assert round_trips.calls == ["get_many", "get_many"] and not rendered

    round_trips.calls.clear()
    _, rendered = _rendered(browser, HOME)
    assert round_trips.calls == ["get_many"] and not rendered


def _as_another_process(monkeypatch) -> None:
    """What this process learnt of the pages it served, forgotten."""
    monkeypatch.setattr(kept_pages, "_version_keys", {})
    monkeypatch.setattr(kept_pages, "held_pages", HeldCopies(budget=1024 * 1024))


def test_a_page_this_process_served_is_not_read_from_the_cache_again(
    redis_like_node, juma, monkeypatch
):
    browser = _signed_in(juma)
    _kept(browser, QUEUE)
    asked: list[str] = []
    get_many = type(caches["default"]).get_many

    def recorded(cache_self, keys, *args, **kwargs):
        asked.extend(keys)
        return get_many(cache_self, keys, *args, **kwargs)

    monkeypatch.setattr(type(caches["default"]), "get_many", recorded)
    queue, rendered = _rendered(browser, QUEUE)

    assert not rendered and "<title>Loans" in queue and _who(queue) == "Juma Otieno"
    assert asked and not [key for key in asked if key.startswith("page")]


def test_a_held_page_is_not_served_once_the_caches_copy_expired(redis_like_node, juma):
    browser = _signed_in(juma)
    _kept(browser, HOME)
    page_key = kept_pages._page_key(juma.pk, RequestFactory().get(HOME))
    versions, page, _ = kept_pages.held_pages.get(page_key)
    kept_pages.held_pages.hold(page_key, (versions, page, time.time() - 1))
    cache.delete(page_key)  # as Redis expires it

    _, rendered = _rendered(browser, HOME)

    assert rendered


def test_a_page_rendered_by_another_process_replaces_the_one_held_here(
    redis_like_node, juma, monkeypatch
):
    """This process held the page at versions that moved on since; another rendered it at the
    new ones: this process reads that one once, holds it, and renders nothing."""
    browser = _signed_in(juma)
    _kept(browser, HOME)
    here = kept_pages.held_pages
    services.user_profile_update(user=juma, full_name="Juma Baraka Otieno")
    _as_another_process(monkeypatch)
    _kept(browser, HOME)  # the other process renders and keeps it at the new versions
    monkeypatch.setattr(kept_pages, "held_pages", here)
    round_trips = _RoundTrips(monkeypatch)

    page, rendered = _rendered(browser, HOME)
    assert not rendered and _who(page) == "Juma Baraka Otieno"
    assert round_trips.calls == ["get_many", "get_many"]

    round_trips.calls.clear()
    _, rendered = _rendered(browser, HOME)
    assert not rendered and round_trips.calls == ["get_many"]


def test_the_page_read_with_the_session_is_the_one_at_the_address(redis_like_node, juma):
    browser = _signed_in(juma)
    _kept(browser, HOME)
    _kept(browser, QUEUE)

    home, _ = _rendered(browser, HOME)
    queue, _ = _rendered(browser, QUEUE)
    filtered, rendered = _rendered(browser, QUEUE + "?state=to_review")

    assert "<title>Dashboard" in home and "<title>Loans" in queue
    assert rendered and "<title>Loans" in filtered


@pytest.mark.parametrize("hint", ["amina", "", "abc", "-1", "²", "9" * 40, "1e3", " 1"])
def test_a_wrong_or_broken_hint_changes_nothing_but_the_time(redis_like_node, juma, amina, hint):
    browser = _signed_in(juma)
    _kept(browser, HOME)
    browser.cookies[PERSON_HINT_COOKIE] = str(amina.pk) if hint == "amina" else hint

    answer = browser.get(HOME)

    assert answer.status_code == 200 and _who(answer.content.decode()) == "Juma Otieno"
    assert answer.cookies[PERSON_HINT_COOKIE].value == str(juma.pk)


def test_without_a_shared_cache_every_page_is_rendered(juma):
    browser = _signed_in(juma)
    _rendered(browser, HOME)
    assert _rendered(browser, HOME)[1]


@given(secret=st.text(alphabet=CSRF_ALLOWED_CHARS, min_size=32, max_size=32))
def test_a_kept_pages_csrf_token_unmasks_to_the_secret_as_djangos_does(secret):
    request = RequestFactory().get(HOME)
    request.META["CSRF_COOKIE"] = secret

    token = masked_csrf_token(request, renew_cookie=True)

    assert len(token) == 64 and set(token) <= set(CSRF_ALLOWED_CHARS)
    assert _unmask_cipher_token(token) == secret
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True


def test_a_kept_pages_csrf_mask_draws_every_character_as_often():
    """Uniform over the 62 characters: a byte taken modulo 62 without dropping the top eight
    values would make eight characters a quarter likelier (a chi-square near 800, not 61)."""
    request = RequestFactory().get(HOME)
    request.META["CSRF_COOKIE"] = "a" * 32
    counts = Counter()
    for _ in range(4000):
        counts.update(masked_csrf_token(request, renew_cookie=False)[:32])

    expected = 4000 * 32 / len(CSRF_ALLOWED_CHARS)
    chi_square = sum((counts[char] - expected) ** 2 / expected for char in CSRF_ALLOWED_CHARS)

    assert chi_square < 140  # 61 degrees of freedom: above 140 once in about 10^8 draws


def test_a_request_without_a_csrf_secret_gets_one_as_from_django():
    request = RequestFactory().get(HOME)

    token = masked_csrf_token(request, renew_cookie=False)

    assert _unmask_cipher_token(token) == request.META["CSRF_COOKIE"]


def test_the_csrf_cookie_is_renewed_by_the_rendered_page_not_by_each_kept_answer(
    redis_like_node, juma
):
    """Its year starts over with every rendered page, and a kept answer follows one within
    kept_pages.PAGE_SECONDS."""
    browser = _signed_in(juma)
    _rendered(browser, HOME)
    rendered = browser.get(HOME)
    kept = browser.get(HOME)

    assert rendered.templates and "csrftoken" in rendered.cookies
    assert not kept.templates and "csrftoken" not in kept.cookies
    assert _csrf_token(kept.content.decode()) != _csrf_token(rendered.content.decode())
