"""Receivers of Django's model signals for the books. Thin: read_cache owns what it keeps."""

from __future__ import annotations

from . import read_cache


def log_changed(sender, instance, **kwargs) -> None:
    """A log was made, saved or dropped (a follow started or stopped): the books' answers are
    asked anew. Appends and pulls move a head in SQL of their own: the outbox flush and the
    pulls tell read_cache themselves."""
    read_cache.books_changed(book=instance.book)
