"""Apps publish through the outbox: rolled back never appears, committed always does, in order,
even when the worker dies between the commit and the append."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.ledger.entries import InvalidEntry, decode_entry
from apps.ledger.models import Book, OutboxEntry
from apps.ledger.selectors import book_entry, book_history, log_verify
from apps.ledger.services import book_publish, log_for_book, outbox_flush
from apps.ledger.tasks import outbox_sweep_task

pytestmark = pytest.mark.django_db(transaction=True)
PROJECT = "4b1f3b8e-1c1a-4d7e-9a56-2f3c1d9e8a01"


def _publish_payment(number: int, amount: str = "12.50") -> None:
    book_publish(
        book=Book.PAYMENTS,
        entry_type="growr/payment",
        version=1,
        key=f"payment:{number}",
        value={
            "payment": f"00000000-0000-4000-8000-{number:012d}",
            "loan": PROJECT,
            "kind": "repayment",
            "amount": amount,
            "currency": "KES",
            "on": "2026-11-24",
        },
    )


class Boom(Exception):
    pass


def test_a_rolled_back_change_never_reaches_the_book():
    with pytest.raises(Boom), transaction.atomic():
        _publish_payment(1)
        raise Boom

    outbox_sweep_task()

    assert not OutboxEntry.objects.exists()
    assert log_for_book(book=Book.PAYMENTS).length == 0


def test_committed_entries_are_appended_in_commit_order():
    for number in range(3):
        with transaction.atomic():
            _publish_payment(number, amount=f"{number}.00")

    log = log_for_book(book=Book.PAYMENTS)
    assert log.length == 3
    assert [book_entry(log=log, key=f"payment:{n}")[0] for n in range(3)] == [0, 1, 2]
    assert log_verify(log=log).ok


@pytest.mark.django_db(transaction=False)
def test_entries_lost_with_a_dead_worker_are_appended_by_the_sweep(
    django_capture_on_commit_callbacks,
):
    log_for_book(book=Book.PAYMENTS)  # made beforehand: its making tells the cache after commit
    # The change commits, but its flush task never runs: the worker died in between.
    with django_capture_on_commit_callbacks(execute=False) as lost_tasks:
        _publish_payment(7)
    assert len(lost_tasks) == 1
    assert log_for_book(book=Book.PAYMENTS).length == 0

    assert outbox_sweep_task() == 1
    log = log_for_book(book=Book.PAYMENTS)
    assert log.length == 1
    assert book_entry(log=log, key="payment:7")[1]["value"]["amount"] == "12.50"
    assert outbox_flush(book=Book.PAYMENTS) == 0, "nothing is appended twice"


def test_history_of_a_key_lists_every_version_newest_first():
    for amount in ("1.00", "2.00", "3.00"):
        _publish_payment(9, amount=amount)

    log = log_for_book(book=Book.PAYMENTS)
    history = book_history(log=log, key="payment:9")

    assert [entry["value"]["amount"] for _, entry in history] == ["3.00", "2.00", "1.00"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {
                "payment": PROJECT,
                "loan": PROJECT,
                "kind": "repayment",
                "amount": "1",
                "currency": "KES",
                "on": "2026-11-24",
                "borrower_name": "Wanjiru Kamau",
            },
            "Additional properties are not allowed",
        ),
        (
            {
                "payment": "not-a-uuid",
                "loan": PROJECT,
                "kind": "repayment",
                "amount": "1",
                "currency": "KES",
                "on": "2026-11-24",
            },
            "payment",
        ),
        (
            {
                "payment": PROJECT,
                "loan": PROJECT,
                "kind": "repayment",
                "amount": 1.5,
                "currency": "KES",
                "on": "2026-11-24",
            },
            "amount",
        ),
    ],
)
def test_entries_that_break_their_schema_are_refused_before_the_outbox(value, message):
    with pytest.raises(InvalidEntry, match=message):
        book_publish(
            book=Book.PAYMENTS,
            entry_type="growr/payment",
            version=1,
            key="payment:1",
            value=value,
        )
    assert not OutboxEntry.objects.exists()


def test_an_entry_type_only_goes_into_its_own_book():
    with pytest.raises(InvalidEntry, match="belong in the payments book"):
        book_publish(book=Book.PROJECTS, entry_type="growr/payment", version=1, key="x", value=None)


@pytest.mark.parametrize("block", [b"\xff\xfe", b"[1]", b"[" * 100_000])
def test_a_block_that_is_not_an_entry_is_refused_cleanly(block):
    with pytest.raises(InvalidEntry):
        decode_entry(block)
