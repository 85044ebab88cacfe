"""The world of the hostile-input stories, built once per module.

Building it (projects, signed credentials, loans, a followed book) costs about a second, and the
matrix and the schema fuzzing ask hundreds of questions of it. So it is built once inside a
transaction that is rolled back after the module; each test runs in a savepoint inside it
(pytest-django's `db`), so what one test changes is gone for the next.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.hardening.world import World, build_world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> World:
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            world = build_world()
            world.sessions = {
                role: _session_of(user) for role, user in world.personas.items() if user
            }
            world.tokens = {
                role: Token.objects.create(user=user).key
                for role, user in world.personas.items()
                if user
            }
            yield world
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture(scope="module")
def _clients() -> dict:
    return {}


@pytest.fixture
def client_as(world, db, _clients):
    """A browser signed in as ROLE (a persona's name) or "anonymous", with the module's
    sessions: logging in for every question would cost most of the time. Clients are reused,
    since each new one loads the middleware (WhiteNoise indexes every static file)."""

    def client_as(role: str, *, enforce_csrf_checks: bool = False) -> Client:
        client = _clients.get(enforce_csrf_checks)
        if client is None:
            client = _clients[enforce_csrf_checks] = Client(enforce_csrf_checks=enforce_csrf_checks)
        client.cookies = SimpleCookie()
        if role != "anonymous":
            client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
        return client

    return client_as


@pytest.fixture(autouse=True)
def fresh_cache():
    # Throttles and login lockouts count in the cache: one test's requests must not refuse
    # the next test's.
    cache.clear()
    yield
    cache.clear()
