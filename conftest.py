"""Test-wide guards and personas.

The personas of every story: Amina (originator admin) and Juma (agent) of Kijani Microfinance,
Wanjiru and Otieno (borrowers), Ines and Pablo (investors), and Ngozi who operates the node.
"""

from __future__ import annotations

import os
import signal

import pytest
from _pytest.nodeid import NodeId

from tests.factories import OrganizationFactory, StaffFactory, UserFactory
from tests.processes import OWNER, stop_what_ended_runs_left

# Real nodes on loopback for the multi-node tests: the fixtures `template` and `network`.
pytest_plugins = ["tests.nodes"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config) -> None:
    # A shell without job control starts background commands with SIGINT ignored, and the nodes
    # a test starts would inherit that: the tests stop them with SIGINT, as Ctrl-C does.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # once a run, before any test starts a node
        stop_what_ended_runs_left()
    os.environ[OWNER] = str(os.getpid())
    # CI must prove the suite on the production services, not quietly fall back to SQLite.
    if IN_CI:
        database_url = os.environ.get("DATABASE_URL", "")
        if not database_url.startswith(("postgres://", "postgresql://")):
            pytest.exit("CI runs need DATABASE_URL pointing at PostgreSQL", returncode=3)
        if not os.environ.get("REDIS_URL", "").startswith("redis://"):
            pytest.exit("CI runs need REDIS_URL pointing at Redis", returncode=3)


def pytest_xdist_auto_num_workers(config) -> int:
    """`-n auto`: a worker per core, as many as Redis's sixteen databases can keep apart."""
    from growr_site.settings.test import REDIS_DATABASES_PER_WORKER

    return max(1, min(os.cpu_count() or 1, 16 // REDIS_DATABASES_PER_WORKER))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the ids
def pytest_collection_modifyitems(config, items) -> None:
    grouped = getattr(config.option, "loadgroup", False)  # a worker of `--dist loadgroup`
    for item in items:
        _named_by_its_operation(item)
        # Tests that start whole nodes load every core of a small machine: under pytest-xdist
        # they run one after another on one worker, beside the others.
        if grouped and item.get_closest_marker("processes"):
            _rename(item, f"{item.nodeid}@nodes")
    ids = [item.nodeid for item in items]
    if len(set(ids)) != len(ids):
        # pytest-xdist schedules by id: a test sharing another's would silently not run.
        twice = sorted({nodeid for nodeid in ids if ids.count(nodeid) > 1})
        raise pytest.UsageError(f"tests collected under one id: {twice[:5]}")


def _named_by_its_operation(item) -> None:
    """Schemathesis names a test per API operation ("test_x[GET /api/books/]") but gives all of
    them the function's id; each gets the id its name says."""
    if "[" in item.name and not item.nodeid.endswith("]"):
        _rename(item, item.nodeid + item.name[item.name.index("[") :])


def _rename(item, nodeid: str) -> None:
    # pytest 9 keeps an item's id structured in `_id`, where pytest-xdist's own renaming (of
    # `_nodeid`, for its groups) no longer reaches; the string is kept as given.
    item._id = NodeId.parse(nodeid)


@pytest.fixture(autouse=True)
def _projects_changed_forgotten():
    """A test's rollback changes projects without saving them: the next test asks the database
    when they last changed, not the cache (apps.projects.selectors.projects_changed)."""
    yield
    from apps.projects.selectors import forget_projects_changed

    forget_projects_changed()


@pytest.fixture(autouse=True)
def _books_answers_forgotten():
    """A test's rollback changes the books without a change the cache hears of: the next test's
    reads of the books are not answered from what this one kept (apps.ledger.read_cache)."""
    yield
    from apps.ledger.models import Book
    from apps.ledger.read_cache import books_changed

    books_changed(book=Book.PROJECTS)  # the generation, and the projects books' version too


@pytest.fixture
def redis_out_of_reach(settings, monkeypatch):
    """Redis out of reach, as in an outage, for all that uses it with REDIS_URL: the node's
    caches (settings.redis_caches) with the sessions in the database behind them, the channel
    layer and Celery's broker, on a port nobody serves. Tasks are sent, not run in the test."""
    from apps.node.network import free_port
    from celery_worker.app import app
    from growr_site.settings.base import redis_caches

    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = redis_caches(nowhere)
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.SESSION_CACHE_ALIAS = "sessions"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [nowhere]},
        }
    }
    monkeypatch.setitem(app.conf, "broker_url", nowhere)
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setattr(app, "_pool", None)  # connections come from the new broker URL
    monkeypatch.setattr(app.amqp, "_producer_pool", None)


@pytest.fixture
def kijani(db):
    return OrganizationFactory(name="Kijani Microfinance", slug="kijani")


@pytest.fixture
def amina(kijani):
    return StaffFactory(
        email="amina@kijani.example",
        full_name="Amina Wekesa",
        role="originator_admin",
        organization=kijani,
    )


@pytest.fixture
def juma(kijani):
    return StaffFactory(
        email="juma@kijani.example",
        full_name="Juma Otieno",
        role="originator_agent",
        organization=kijani,
    )


@pytest.fixture
def wanjiru(db):
    return UserFactory(email="wanjiru@example.org", full_name="Wanjiru Kamau", role="borrower")


@pytest.fixture
def otieno(db):
    return UserFactory(email="otieno@example.org", full_name="Otieno Ouma", role="borrower")


@pytest.fixture
def ines(db):
    return UserFactory(email="ines@example.org", full_name="Ines Duarte", role="investor")


@pytest.fixture
def pablo(db):
    return UserFactory(email="pablo@example.org", full_name="Pablo Ruiz", role="investor")


@pytest.fixture
def ngozi(db):
    from apps.identity.models import User

    return User.objects.create_superuser(
        "ngozi@node.example", "correct horse battery staple", full_name="Ngozi Eze"
    )


@pytest.fixture
def django_cycles():
    """How many requests went through Django's request cycle (request_started)."""
    started = []

    def count(**_):
        started.append(1)

    from django.core.signals import request_started

    request_started.connect(count)
    yield started
    request_started.disconnect(count)
