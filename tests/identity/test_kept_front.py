"""Kept pages answered before Django's middleware (kept_pages.KeptPagesFront), through the ASGI
application as uvicorn calls it. Juma (an agent of Kijani) opens his loan queue: rendered once,
answered from its kept copy by the middleware once, then before Django, with the headers the
middleware gave it and a CSRF token of its own. Whatever that answer rests on, once changed,
sends him through Django again, which answers as it always did: signed out, a session from
before a new password, a deactivation, a new role, a message waiting, a change to Kijani's staff
pages, another host, a broken CSRF cookie, a POST. Amina (Kijani's admin) with a hint naming Juma
gets her own page, never his."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from django.contrib.messages.storage.cookie import CookieStorage
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client

from apps.identity import kept_pages, services
from apps.identity.kept_pages import CSRF_TOKEN_PLACEHOLDER
from apps.identity.middleware import PERSON_HINT_COOKIE
from apps.node.cache import HeldCopies
from growr_site.asgi import application
from tests.factories import StaffFactory
from tests.node.test_asgi import _ask

QUEUE = "/staff/loans/"
CSRF_SECRET = "k" * 32

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_like_node(settings, monkeypatch):
    """As on a node with Redis (test_kept_pages.redis_like_node), holding no page yet."""
    settings.GROWR_CACHE_SHARED = True
    settings.SESSION_ENGINE = "apps.identity.sessions"
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(kept_pages, "held_pages", HeldCopies(budget=1024 * 1024))
    monkeypatch.setattr(kept_pages.front, "pages", HeldCopies(budget=1024 * 1024))


class Browser:
    """A signed-in browser's cookies, asking through the ASGI application."""

    def __init__(self, person, *, hint=None):
        client = Client()
        client.force_login(person)
        self.cookies = {
            "sessionid": client.cookies["sessionid"].value,
            "csrftoken": CSRF_SECRET,
            PERSON_HINT_COOKIE: str(person.pk if hint is None else hint),
        }

    def get(self, path: str, *, host: bytes = b"127.0.0.1", method: str = "GET") -> tuple:
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        status, headers, _, page = async_to_sync(_ask)(
            application, method, path, headers=[(b"cookie", cookie.encode())], host=host
        )
        return status, headers, page


def _answered_before_django(browser: Browser, django_cycles: list, path: str = QUEUE) -> tuple:
    """Juma's page at PATH: rendered, then answered by the middleware from its kept copy
    (which the front learns), then by the front."""
    browser.get(path)
    browser.get(path)
    kept = browser.get(path)
    before = len(django_cycles)
    front = browser.get(path)
    assert len(django_cycles) == before, "answered through Django"
    return kept, front


def _token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]


def test_a_kept_page_is_answered_before_django_as_django_answered_it(
    redis_like_node, juma, django_cycles
):
    (status, headers, page), (front_status, front_headers, front_page) = _answered_before_django(
        Browser(juma), django_cycles
    )

    assert front_status == status == 200 and "<title>Loans" in front_page
    assert front_headers == headers  # Content-Type, CSP, X-Frame-Options, Vary, ..., and no cookie
    assert b"set-cookie" not in front_headers
    assert int(front_headers[b"content-length"]) == len(front_page.encode())
    assert CSRF_TOKEN_PLACEHOLDER not in front_page
    assert _token(front_page) != _token(page)
    assert _unmask_cipher_token(_token(front_page)) == CSRF_SECRET
    assert front_page.replace(_token(front_page), "") == page.replace(_token(page), "")


def _sign_out(browser, person):
    browser.cookies["sessionid"] = "no-such-session"


def _deactivated(browser, person):
    person.is_active = False
    person.save()


def _an_investor_now(browser, person):
    person.role, person.organization = "investor", None
    person.save()


def _a_message_waiting(browser, person):
    browser.cookies[CookieStorage.cookie_name] = "a message"


def _a_broken_csrf_cookie(browser, person):
    browser.cookies["csrftoken"] = "short"


@pytest.mark.parametrize(
    ("change", "answer"),
    [
        (_sign_out, 302),
        (_deactivated, 302),
        (_an_investor_now, 403),
        (_a_message_waiting, 200),
        (_a_broken_csrf_cookie, 200),
    ],
)
def test_a_change_to_what_the_page_rests_on_sends_juma_through_django(
    redis_like_node, juma, django_cycles, change, answer
):
    browser = Browser(juma)
    _answered_before_django(browser, django_cycles)

    change(browser, juma)
    before = len(django_cycles)
    status, headers, _ = browser.get(QUEUE)

    assert len(django_cycles) == before + 1
    assert status == answer
    if change is _a_broken_csrf_cookie:
        assert b"set-cookie" in headers  # Django gives him a new secret


def test_a_change_to_kijanis_staff_pages_has_the_queue_rendered_again(
    redis_like_node, juma, django_cycles
):
    browser = Browser(juma)
    _answered_before_django(browser, django_cycles)

    StaffFactory(organization=juma.organization)  # moves Kijani's staff generation on
    before = len(django_cycles)
    status, _, _ = browser.get(QUEUE)

    assert status == 200 and len(django_cycles) == before + 1


def test_a_new_name_shows_at_once(redis_like_node, juma, django_cycles):
    browser = Browser(juma)
    _answered_before_django(browser, django_cycles)

    services.user_profile_update(user=juma, full_name="Juma Baraka Otieno")
    _, _, page = browser.get(QUEUE)

    assert 'class="who">Juma Baraka Otieno<' in page


def test_another_host_goes_through_django(redis_like_node, juma, django_cycles, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    browser = Browser(juma)
    _answered_before_django(browser, django_cycles)

    before = len(django_cycles)
    status, _, _ = browser.get(QUEUE, host=b"evil.example")

    assert status == 400 and len(django_cycles) == before + 1


def test_a_session_from_before_a_new_password_is_signed_out(redis_like_node, juma, django_cycles):
    """Juma's phone was stolen: he changes his password on his laptop, and his page is answered
    there before Django; the phone's session, of the old password, is not."""
    phone = Browser(juma)
    juma.set_password("a new passphrase for Juma")
    juma.save()
    laptop = Browser(juma)
    _answered_before_django(laptop, django_cycles)

    before = len(django_cycles)
    status, _, _ = phone.get(QUEUE)

    assert len(django_cycles) == before + 1 and status == 302  # to the login page


def test_amina_hinting_at_juma_gets_her_own_page(redis_like_node, juma, amina, django_cycles):
    amina_browser = Browser(amina, hint=juma.pk)
    _answered_before_django(Browser(juma), django_cycles)

    before = len(django_cycles)
    status, _, page = amina_browser.get(QUEUE)

    assert status == 200 and len(django_cycles) == before + 1
    assert 'class="who">Amina Wekesa<' in page


def test_only_a_get_is_answered_before_django(redis_like_node, juma, django_cycles):
    browser = Browser(juma)
    _answered_before_django(browser, django_cycles)

    before = len(django_cycles)
    status, _, _ = browser.get(QUEUE, method="POST")

    assert len(django_cycles) == before + 1 and status == 403  # no CSRF token: Django refuses


def test_without_a_shared_cache_nothing_is_answered_before_django(
    juma, django_cycles, settings, monkeypatch
):
    settings.GROWR_CACHE_SHARED = False
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    monkeypatch.setattr(kept_pages.front, "pages", HeldCopies(budget=1024 * 1024))
    browser = Browser(juma)

    for _ in range(4):
        before = len(django_cycles)
        status, _, _ = browser.get(QUEUE)
        assert status == 200 and len(django_cycles) == before + 1
