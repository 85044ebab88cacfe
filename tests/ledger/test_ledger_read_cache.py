"""Readers of the books ask for the same heads and entries again and again: Pablo, an investor
with a script, reads a loan's entry every second and gets the answer the node kept, without a
query; the moment Amina's node publishes a new version of the loan he reads it. A followed
projects book's new projects reach the catalogue's version as soon as they are indexed."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.ledger import read_cache, selectors
from apps.ledger.api import KeptPublicApi
from apps.ledger.follow_services import follow_index, follow_pull, follow_start
from apps.ledger.models import Book, Log, OutboxEntry
from apps.ledger.services import log_for_book, outbox_flush
from apps.node import kept_json
from apps.node.cache import HeldCopies
from growr_site.asgi import application
from tests.ledger.loan_entries import publish_loan_version
from tests.ledger.replica_sources import HonestSource, MemoryBook, entry
from tests.node.test_asgi import _ask

LOAN = "9d0c7f0e-5b2a-4c8e-8f1d-6a7b3c2d1e0f"
AMANI_URL = "http://amani.example"


def _publish_loan(status: str, version: int) -> None:
    publish_loan_version(loan=LOAN, status=status, version=version)


@pytest.fixture
def loans_key(transactional_db) -> str:
    _publish_loan("submitted", 1)
    return bytes(log_for_book(book=Book.LOANS).key).hex()


def _get(path: str):
    with CaptureQueriesContext(connection) as queries:
        answer = APIClient().get(path)
    return answer, len(queries)


def test_a_reader_asking_again_is_answered_without_a_query_and_before_drf(loans_key):
    paths = [
        "/api/books/",
        f"/api/books/{loans_key}/",
        f"/api/books/{loans_key}/entry/?key=loan:{LOAN}",
        f"/api/books/{loans_key}/history/?key=loan:{LOAN}",
        f"/api/books/{loans_key}/blocks/?start=0&end=1",
    ]
    for path in paths:
        first, asked = _get(path)
        with mock.patch.object(KeptPublicApi, "dispatch", wraps=None) as drf:
            again, asked_again = _get(path)

        assert first.status_code == 200 and asked > 0, path
        assert (again.content, asked_again) == (first.content, 0), path
        assert not drf.called, path
        for header in ("Content-Type", "Allow", "Vary"):
            assert again[header] == first[header], (path, header)


def test_an_answer_served_before_is_held_and_the_cache_sends_its_version_only(
    loans_key, monkeypatch
):
    monkeypatch.setattr(kept_json, "held_answers", HeldCopies(budget=1024 * 1024))
    path = f"/api/books/{loans_key}/entry/?key=loan:{LOAN}"
    first, _ = _get(path)
    _get(path)  # read from the cache, and held
    asked: list = []
    get = read_cache.cache.get
    monkeypatch.setattr(
        read_cache.cache, "get", lambda key, *a, **k: asked.append(key) or get(key, *a, **k)
    )
    monkeypatch.setattr(read_cache.cache, "get_many", lambda keys: asked.extend(keys) or {})

    again, queries = _get(path)

    assert (again.content, queries) == (first.content, 0)
    assert asked == [read_cache.GENERATION_KEY]


def test_a_browser_reading_a_kept_answer_gets_drfs_page(loans_key):
    path = f"/api/books/{loans_key}/"
    kept = APIClient().get(path).content

    page = APIClient().get(path, HTTP_ACCEPT="text/html,application/xhtml+xml")
    named = APIClient().get(path + "?format=json")

    assert page["Content-Type"].startswith("text/html") and b"<html" in page.content
    assert named.json() == json.loads(kept)


def test_a_new_version_shows_at_once_in_every_answer(loans_key):
    entry_path = f"/api/books/{loans_key}/entry/?key=loan:{LOAN}"
    book_path = f"/api/books/{loans_key}/"
    assert _get(entry_path)[0].json()["entry"]["value"]["status"] == "submitted"
    assert _get(book_path)[0].json()["length"] == 1

    _publish_loan("approved", 2)

    assert _get(entry_path)[0].json()["entry"]["value"]["status"] == "approved"
    assert _get(book_path)[0].json()["length"] == 2
    history = _get(f"/api/books/{loans_key}/history/?key=loan:{LOAN}")[0].json()["history"]
    assert [h["entry"]["value"]["status"] for h in history] == ["approved", "submitted"]


def test_a_refusal_is_not_kept(loans_key):
    path = f"/api/books/{loans_key}/entry/?key=loan:unknown"

    first, _ = _get(path)
    again, asked_again = _get(path)

    assert (first.status_code, again.status_code) == (404, 404)
    assert asked_again > 0


def test_an_answer_is_kept_a_second_at_most(loans_key, monkeypatch):
    # The embedded default's cache is each process's own: a change the worker makes reaches a
    # web process's kept answers only when they expire.
    kept, keep = [], read_cache.cache.set
    monkeypatch.setattr(
        read_cache.cache,
        "set",
        lambda key, value, timeout: kept.append((key, timeout)) or keep(key, value, timeout),
    )

    _get(f"/api/books/{loans_key}/")

    assert [timeout for key, timeout in kept if key.startswith("books:answer:")] == [
        read_cache.ANSWER_SECONDS
    ]
    assert read_cache.ANSWER_SECONDS == 1


def test_a_publication_waits_in_the_outbox_while_redis_is_out_of_reach(
    loans_key, redis_out_of_reach
):
    """No flush task reaches the broker: the entry waits for beat's sweep, and the flush it
    sends appends it with the cache still out of reach."""
    _publish_loan("approved", 2)
    assert log_for_book(book=Book.LOANS).length == 1
    assert OutboxEntry.objects.filter(book=Book.LOANS, block_index=None).count() == 1

    assert outbox_flush(book=Book.LOANS) == 1
    assert log_for_book(book=Book.LOANS).length == 2


def test_a_generation_lost_with_the_cache_starts_past_every_kept_one(db):
    before = read_cache.books_generation()
    read_cache.cache.delete(read_cache.GENERATION_KEY)  # an eviction, or Redis restarted

    assert read_cache.books_generation() > before


@pytest.fixture
def amani_projects() -> MemoryBook:
    book = MemoryBook()
    book.append([entry(n) for n in range(20)])
    return book


def test_a_followed_projects_book_moves_the_catalogue_version_when_pulled_and_indexed(
    db, amani_projects
):
    follow = follow_start(key=amani_projects.key, kind="projects", sources=[AMANI_URL])
    before = selectors.projects_books_version()
    with CaptureQueriesContext(connection) as queries:
        assert selectors.projects_books_version() == before
    assert len(queries) == 0

    follow_pull(follow_id=follow.pk, source_factory={AMANI_URL: HonestSource(amani_projects)}.get)
    pulled = selectors.projects_books_version()
    follow_index(follow_id=follow.pk)
    indexed = selectors.projects_books_version()

    assert len({before, pulled, indexed}) == 3
    assert Log.objects.get(pk=follow.log_id).length == 20


def test_with_redis_out_of_reach_the_books_are_still_read(loans_key, redis_out_of_reach):
    answer, asked = _get(f"/api/books/{loans_key}/entry/?key=loan:{LOAN}")

    assert answer.status_code == 200 and asked > 0
    assert answer.json()["entry"]["value"]["status"] == "submitted"


def _ask_asgi(path: str, *headers: tuple[bytes, bytes]) -> tuple:
    """PATH through the ASGI application, as uvicorn calls it: (status, headers, body)."""
    bare, _, query = path.partition("?")
    host = dict(headers).get(b"host", b"127.0.0.1")
    others = [header for header in headers if header[0] != b"host"]
    status, named, _, body = async_to_sync(_ask)(
        application, "GET", bare, headers=others, host=host, query=query.encode()
    )
    return status, named, body


@pytest.fixture
def fresh_front(monkeypatch):
    monkeypatch.setattr(kept_json.front, "addresses", {})
    monkeypatch.setattr(kept_json, "held_answers", HeldCopies(budget=1024 * 1024))


def test_pablos_script_asking_again_is_answered_before_django_as_django_answered(
    loans_key, fresh_front, django_cycles
):
    path = f"/api/books/{loans_key}/entry/?key=loan:{LOAN}"
    _ask_asgi(path)  # built, and kept
    kept = _ask_asgi(path)  # the kept answer, which the front learns

    before = len(django_cycles)
    again = _ask_asgi(path)

    assert len(django_cycles) == before, "answered through Django"
    assert again == kept and again[0] == 200
    assert int(again[1][b"content-length"]) == len(again[2].encode())


def test_a_new_version_reaches_pablo_through_django(loans_key, fresh_front, django_cycles):
    path = f"/api/books/{loans_key}/entry/?key=loan:{LOAN}"
    for _ in range(3):
        _ask_asgi(path)

    _publish_loan("approved", 2)
    before = len(django_cycles)
    status, _, body = _ask_asgi(path)

    assert len(django_cycles) == before + 1
    assert status == 200 and json.loads(body)["entry"]["value"]["status"] == "approved"


@pytest.mark.parametrize(
    "header",
    [(b"cookie", b"sessionid=abc"), (b"accept", b"text/html"), (b"host", b"evil.example")],
)
def test_a_request_unlike_the_one_learnt_goes_through_django(
    loans_key, fresh_front, django_cycles, header
):
    path = f"/api/books/{loans_key}/"
    for _ in range(3):
        _ask_asgi(path)

    before = len(django_cycles)
    _ask_asgi(path, header)

    assert len(django_cycles) == before + 1
