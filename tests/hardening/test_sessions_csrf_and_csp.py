"""What a hostile page in another tab, or a script slipped into one of ours, can do: nothing.

A form posted without its CSRF token is refused; the session cookie is out of scripts' reach,
stays home on cross-site requests and ends within a working day; signing in never keeps a
session id somebody planted; and the Content-Security-Policy lets pages run only the node's
own script files, which no template undermines with inline script or style.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.authtoken.models import Token

from apps.identity.models import StaffInvitation
from apps.node.middleware import policy_for
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def _csrf_token(client: Client, path: str) -> str:
    page = client.get(path).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_a_sign_in_posted_from_another_site_without_the_token_is_refused(wanjiru):
    browser = Client(enforce_csrf_checks=True)

    refused = browser.post("/accounts/login/", {"username": wanjiru.email, "password": PASSWORD})

    assert refused.status_code == 403
    assert "_auth_user_id" not in browser.session


def test_amina_is_not_made_to_invite_a_stranger_by_a_forged_form(amina):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(amina)
    form = {"email": "mallory@evil.example", "role": "originator_admin"}

    forged = browser.post("/staff/team/", form)
    assert forged.status_code == 403
    assert not StaffInvitation.objects.filter(email="mallory@evil.example").exists()

    genuine = browser.post(
        "/staff/team/", {**form, "csrfmiddlewaretoken": _csrf_token(browser, "/staff/team/")}
    )
    assert genuine.status_code == 302
    assert StaffInvitation.objects.filter(email="mallory@evil.example").exists()


def test_the_api_asks_a_session_for_the_csrf_token_but_not_a_token_holder(amina):
    form = {"email": "baraka@kijani.example", "role": "originator_agent"}
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(amina)

    assert browser.post("/api/staff/invitations/", form).status_code == 403

    script = Client(enforce_csrf_checks=True)
    token = Token.objects.create(user=amina)
    answer = script.post("/api/staff/invitations/", form, HTTP_AUTHORIZATION=f"Token {token}")
    assert answer.status_code == 201


def test_the_session_cookie_is_out_of_reach_of_scripts_and_other_sites(wanjiru):
    browser = Client()
    signed_in = browser.post("/accounts/login/", {"username": wanjiru.email, "password": PASSWORD})

    session = signed_in.cookies[settings.SESSION_COOKIE_NAME]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    # Expires within a working day, not Django's default fortnight.
    assert 0 < session["max-age"] <= 12 * 60 * 60
    csrf = browser.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["httponly"] is True
    assert csrf["samesite"] == "Lax"


def test_signing_in_never_keeps_a_session_id_an_attacker_planted(wanjiru):
    """Session fixation: Mallory gets a session id from the node, plants it in Wanjiru's
    browser, and waits for her to sign in; the id she knows must be worthless after."""
    browser = Client()
    browser.get("/accounts/login/")
    planted = browser.session
    planted["language"] = "sw"
    planted.save()
    browser.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key

    browser.post("/accounts/login/", {"username": wanjiru.email, "password": PASSWORD})

    signed_in_key = browser.cookies[settings.SESSION_COOKIE_NAME].value
    assert signed_in_key != planted.session_key
    assert not Session.objects.filter(session_key=planted.session_key).exists()
    mallory = Client()
    mallory.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    assert mallory.get("/borrow/").status_code == 302  # to the login page


def test_signing_out_ends_the_session_on_the_node_not_only_in_the_browser(wanjiru):
    browser = Client()
    browser.post("/accounts/login/", {"username": wanjiru.email, "password": PASSWORD})
    key = browser.cookies[settings.SESSION_COOKIE_NAME].value

    browser.post("/accounts/logout/")

    assert not Session.objects.filter(session_key=key).exists()


def test_every_page_says_where_scripts_styles_and_sockets_may_come_from(rf, settings):
    settings.ALLOWED_HOSTS = ["node.example"]
    policy = dict(
        directive.split(" ", 1)
        for directive in policy_for(rf.get("/", HTTP_HOST="node.example")).split("; ")
    )

    assert policy == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "connect-src": "'self' ws://node.example wss://node.example",
        "frame-ancestors": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "object-src": "'none'",
    }


def test_a_page_answered_to_a_bad_host_still_carries_the_policy(client):
    response = client.get("/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert "connect-src 'self';" in response["Content-Security-Policy"]


TEMPLATE_DIRS = [ROOT / "templates", *sorted((ROOT / "apps").glob("*/templates"))]
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> block"),
    (re.compile(r"\sstyle\s*=", re.I), "a style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an on…= event handler"),
    (re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I), "a javascript: URL"),
]


def _templates() -> list[Path]:
    return [path for folder in TEMPLATE_DIRS for path in sorted(folder.rglob("*.html"))]


def test_no_template_holds_what_the_policy_would_block():
    """The browser would refuse these silently (a console message, a dead button): say so at
    once instead, with the file."""
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in _templates()
        for pattern, what in INLINE
        if pattern.search(path.read_text())
    ]

    assert _templates(), "no templates found: the scan looks in the wrong place"
    assert found == []
