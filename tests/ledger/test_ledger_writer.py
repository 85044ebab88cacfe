"""One signer per log: the writer lease, appends conditional on the head they were computed from,
and what a rolled-back append leaves behind (nothing)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from apps.ledger import storage
from apps.ledger.hypercore.heads import SignedHead
from apps.ledger.models import Block, Book, Log
from apps.ledger.models import SignedHead as StoredHead
from apps.ledger.selectors import log_verify
from apps.ledger.services import LogTampered, log_append, log_for_book, log_writer

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_lengths(log: Log) -> list[int]:
    return list(
        StoredHead.objects.filter(log=log).order_by("length").values_list("length", flat=True)
    )


def test_a_held_writer_appends_batch_after_batch_each_committed_on_its_own():
    log = log_for_book(book=Book.PAYMENTS)
    with log_writer(log=log) as writer:
        for n in range(5):
            writer.append([f"payment {n}".encode()])
        # Committed already: another connection's view is what a reader sees.
        assert Log.objects.get(pk=log.pk).length == 5
        writer.append([b"a", b"b", b"c"])

    assert _signed_lengths(log) == [1, 2, 3, 4, 5, 8]
    assert log_verify(log=log).ok


def test_appenders_in_many_threads_never_sign_one_length_twice():
    log = log_for_book(book=Book.PAYMENTS)
    errors = []

    def append_ten(worker: int) -> None:
        try:
            mine = Log.objects.get(pk=log.pk)  # each thread has its own connection
            for n in range(10):
                log_append(log=mine, blocks=[f"worker {worker} entry {n}".encode()])
        except Exception as exc:  # the assertion below reports it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append_ten, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    log.refresh_from_db()
    assert log.length == 40
    assert _signed_lengths(log) == list(range(1, 41))
    assert log_verify(log=log).ok


def test_an_append_from_a_stale_head_stores_nothing_and_says_so():
    log = log_for_book(book=Book.LOANS)
    with log_writer(log=log) as writer:
        writer.append([b"first"])
        # Someone moves the head behind the lease holder's back (a bug or a tampered row).
        Log.objects.filter(pk=log.pk).update(length=7)

        # A kept head (PostgreSQL) fails the conditional write; a re-read one fails its check.
        with pytest.raises(LogTampered, match="head"):
            writer.append([b"second"])

    assert list(Block.objects.filter(log=log).values_list("index", flat=True)) == [0]
    assert _signed_lengths(log) == [1]


def test_a_rolled_back_append_leaves_no_block_and_the_next_one_continues_the_log():
    log = log_for_book(book=Book.LOANS)
    log_append(log=log, blocks=[b"kept"])

    with pytest.raises(RuntimeError), transaction.atomic(), log_writer(log=log) as writer:
        writer.append([b"rolled back"])
        raise RuntimeError("the caller's transaction fails after the append")

    log.refresh_from_db()
    assert log.length == 1
    head = log_append(log=log, blocks=[b"next"])
    assert head.length == 2
    SignedHead(*head).verify(log.core_keys)
    assert [bytes(b) for b in Block.objects.filter(log=log).values_list("data", flat=True)] == [
        b"kept",
        b"next",
    ]
    assert log_verify(log=log).ok


def test_a_large_append_is_stored_by_copy_and_verifies(monkeypatch):
    monkeypatch.setattr(storage, "ONE_STATEMENT_MAX_BLOCKS", 10)
    log = log_for_book(book=Book.FUNDING)
    with log_writer(log=log) as writer:
        writer.append([f"funding {n}".encode() for n in range(25)])
        writer.append([b"one more"])

    assert Block.objects.filter(log=log).count() == 26
    assert _signed_lengths(log) == [25, 26]
    assert log_verify(log=log).ok


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_lease_is_held_by_one_session_until_the_writer_is_done():
    log = log_for_book(book=Book.FUNDING)
    taken = []

    def try_to_take() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [storage.WRITER_LEASE_NAMESPACE, log.pk]
            )
            taken.append(cursor.fetchone()[0])
            cursor.execute("SELECT pg_advisory_unlock_all()")
        connection.close()

    with log_writer(log=log):
        other = threading.Thread(target=try_to_take)
        other.start()
        other.join()
    after = threading.Thread(target=try_to_take)
    after.start()
    after.join()

    assert taken == [False, True]
