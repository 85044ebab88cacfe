"""The key/value index of a book can always be rebuilt from the log alone."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.ledger.models import Book, BookKey
from apps.ledger.selectors import book_entry
from apps.ledger.services import book_publish, log_for_book

pytestmark = pytest.mark.django_db(transaction=True)


def _publish(key: str, status: str) -> None:
    book_publish(
        book=Book.PROJECTS,
        entry_type="growr/project",
        version=1,
        key=key,
        value={
            "project": "4b1f3b8e-1c1a-4d7e-9a56-2f3c1d9e8a01",
            "version": 1,
            "status": status,
            "terms": {},
            "eligibility": None,
        },
    )


def test_an_intact_index_checks_clean(capsys):
    _publish("project:a", "published")

    call_command("book_index")

    assert "projects: 1 blocks, index ok" in capsys.readouterr().out


def test_a_damaged_index_is_found_and_rebuilt_from_the_log(capsys):
    _publish("project:a", "published")
    _publish("project:a", "paused")
    log = log_for_book(book=Book.PROJECTS)
    BookKey.objects.filter(log=log, key="project:a").update(block_index=0)

    with pytest.raises(CommandError, match="differ"):
        call_command("book_index")
    call_command("book_index", "--rebuild")
    call_command("book_index")

    assert book_entry(log=log, key="project:a")[1]["value"]["status"] == "paused"
