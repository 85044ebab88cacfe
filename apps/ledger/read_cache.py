"""What the books' readers ask again and again, kept in the cache: the public read API's answers
and the version of the projects books that keys the network catalogue.

A change of a book (an outbox flush, a followed log's pull, its indexing, a log made or dropped)
calls books_changed at once, for reads in its own transaction, and again after its commit, for a
read that looked in between. Each kept answer lives a second at most: the embedded default's
cache is each process's own, so a change made by the worker reaches a web process's reads that
late, and so does an append through services.log_writer alone, which tells nobody (the outbox
flush, the one writer of the node's books, tells once per batch).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

from apps.node.cache import generation, kept_at_version, next_generation

from .models import Book

# Moved on by every change of any book; the read API's answers are kept under it.
GENERATION_KEY = "books:generation"
ANSWER_SECONDS = 1
PROJECTS_VERSION_KEY = "books:projects-version"
PROJECTS_VERSION_SECONDS = 1


def books_changed(*, book: str) -> None:
    """A log of kind BOOK changed: what was kept of the books is asked anew, now and after the
    commit. A cache out of reach forgets nothing, and needs not: what it kept lasts a second."""
    _forget(book)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _forget(book), robust=True)


def _forget(book: str) -> None:
    next_generation(GENERATION_KEY)
    if book == Book.PROJECTS:
        cache.delete(PROJECTS_VERSION_KEY)


def books_generation() -> int:
    """The books' generation, started from the clock when the cache has none."""
    return generation(GENERATION_KEY)


def kept_answer(*, address: str, build: Callable[[], bytes]) -> bytes:
    """The read API's answer to ADDRESS (path and query), as BUILD gives it, kept a second and
    built again once the books' generation moved on. Only answers are kept: BUILD raises for a
    refusal."""
    return kept_at_version(
        key=answer_key(address=address),
        version_key=GENERATION_KEY,
        version=books_generation,
        build=build,
        seconds=ANSWER_SECONDS,
    )


def answer_key(*, address: str) -> str:
    """Where the answer to ADDRESS is kept."""
    return "books:answer:" + hashlib.sha256(address.encode()).hexdigest()


def projects_version(read: Callable[[], str]) -> str:
    """What READ says of the projects books (one query), kept a second."""
    version = cache.get(PROJECTS_VERSION_KEY)
    if version is None:
        version = read()
        cache.set(PROJECTS_VERSION_KEY, version, timeout=PROJECTS_VERSION_SECONDS)
    return version
