"""Writes of following: which books of other nodes this node follows, from where, and the state
of each follow. The pull itself (fetch, verify, store) is `follow_pull` in replication_services."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from .hypercore.crypto import discovery_key
from .hypercore.tree import TreeBatch
from .models import (
    Block,
    BookEntry,
    BookKey,
    Follow,
    FollowSource,
    FollowState,
    Log,
    SignedHead,
)

MAX_KIND_LENGTH = 32


@transaction.atomic
def follow_start(
    *,
    key: bytes,
    kind: str,
    sources: Iterable[str],
    publisher: bytes | None = None,
    chosen_by=None,
) -> Follow:
    """Follow the book KEY, served at SOURCES (base URLs of nodes' read APIs). Following a book
    already followed adds the sources; the writer's public key is learnt, and checked against
    KEY, on the first pull."""
    if len(key) != 32:
        raise ValidationError("A book key is 32 bytes (64 hex characters).")
    if not kind or len(kind) > MAX_KIND_LENGTH:
        raise ValidationError(f"A book kind is 1 to {MAX_KIND_LENGTH} characters.")
    log = Log.objects.select_for_update().filter(key=key).first()
    if log is not None and log.writer:
        raise ValidationError("This node writes that book; it cannot follow it.")
    if log is None:
        log = Log.objects.create(
            book=kind,
            writer=False,
            key=key,
            discovery_key=discovery_key(key),
            public_key=b"",
            tree_hash=TreeBatch([], 0, 0).tree_hash(),
        )
    follow, _ = Follow.objects.get_or_create(
        log=log, defaults={"publisher": publisher, "chosen_by": chosen_by}
    )
    follow_sources_add(follow=follow, urls=sources)
    return follow


def follow_sources_add(*, follow: Follow, urls: Iterable[str]) -> None:
    sources = [FollowSource(follow=follow, url=url.rstrip("/")) for url in urls]
    FollowSource.objects.bulk_create(sources, ignore_conflicts=True)


def follow_set_state(*, follow: Follow, state: FollowState) -> None:
    """Pause or resume; a frozen follow (the writer forked) stays frozen."""
    if follow.state == FollowState.FROZEN:
        raise ValidationError("This book is frozen: its writer signed two different logs.")
    Follow.objects.filter(pk=follow.pk).update(state=state)


@transaction.atomic
def follow_stop(*, follow: Follow) -> None:
    """Unfollow: forget the book and everything stored of it."""
    log_id = follow.log_id
    follow.delete()
    for model in (BookKey, BookEntry, SignedHead, Block):
        model.objects.filter(log_id=log_id).delete()
    Log.objects.filter(pk=log_id).delete()
