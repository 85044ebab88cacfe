"""Writes of following: which books of other nodes this node follows, from where, the state of
each follow, and the pull that brings one up to date (fetch and verify with replication.py, then
store). docs/protocol.md, "Replication", describes the exchange."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Least
from django.urls import reverse
from django.utils import timezone

from apps.identity.models import Role, User
from apps.identity.notifications import notify_user

from . import read_cache, storage
from .entries import KEY_RE, InvalidEntry, decode_entry
from .hypercore.crypto import discovery_key
from .hypercore.signing import LogKeys, Mode
from .hypercore.tree import TreeBatch, pack_roots, unpack_roots
from .models import (
    Block,
    BookEntry,
    BookKey,
    Follow,
    FollowSource,
    FollowState,
    ForkEvidence,
    Log,
    ReplicationEvent,
    ReplicationFault,
    SignedHead,
)
from .replication import (
    HttpSource,
    RemoteHead,
    RemoteRange,
    ReplicationError,
    verify_batch,
    verify_blocks,
    verify_head,
)

logger = logging.getLogger(__name__)

MAX_KIND_LENGTH = 32
# One request of the read API's /blocks/ (a proof per block) carries a sparse follow's blocks.
MAX_KEEP_LATEST = 1000


@transaction.atomic
def follow_start(
    *,
    key: bytes,
    kind: str,
    sources: Iterable[str],
    publisher: bytes | None = None,
    chosen_by=None,
    keep_latest: int | None = None,
    block_range: tuple[int, int] | None = None,
) -> Follow:
    """Follow the book KEY, served at SOURCES (base URLs of nodes' read APIs). Following a book
    already followed adds the sources; the writer's public key is learnt, and checked against
    KEY, on the first pull."""
    if len(key) != 32:
        raise ValidationError("A book key is 32 bytes (64 hex characters).")
    if not kind or len(kind) > MAX_KIND_LENGTH:
        raise ValidationError(f"A book kind is 1 to {MAX_KIND_LENGTH} characters.")
    _check_sparse(keep_latest, block_range)
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
        log=log,
        defaults={
            "publisher": publisher,
            "chosen_by": chosen_by,
            "keep_latest": keep_latest,
            "range_start": block_range[0] if block_range else None,
            "range_end": block_range[1] if block_range else None,
        },
    )
    follow_sources_add(follow=follow, urls=sources)
    return follow


def _check_sparse(keep_latest: int | None, block_range: tuple[int, int] | None) -> None:
    if keep_latest is not None and block_range is not None:
        raise ValidationError("Keep the newest blocks or a range of blocks, not both.")
    if keep_latest is not None and not 1 <= keep_latest <= MAX_KEEP_LATEST:
        raise ValidationError(f"A sparse follow keeps 1 to {MAX_KEEP_LATEST} of the newest blocks.")
    if block_range is not None:
        start, end = block_range
        if not 0 <= start < end or end - start > MAX_KEEP_LATEST:
            raise ValidationError(
                "A range of blocks is START:END with START < END, "
                f"at most {MAX_KEEP_LATEST} blocks."
            )


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


# Pulling.

BATCH_BLOCKS = 2000  # the read API's most per request
SCORE_MAX = 100
SCORE_PENALTY = {"unreachable": 5, "malformed": 20, "shorter_head": 20, "wrong_key": 50}
DEFAULT_PENALTY = 40  # a bad proof or signature: the source served data the writer never signed
BACKOFF_FIRST = timedelta(seconds=10)
BACKOFF_MAX = timedelta(hours=1)
# A source below this score is no longer asked (it stays listed, with its errors, for staff).
SCORE_DROPPED = 0


class PulledElsewhere(Exception):
    """Another pull of the same book stored this batch first; this one stops, storing nothing."""


@dataclass(frozen=True)
class PullResult:
    stored: int
    length: int
    source: str | None = None
    problem: str | None = None


def follow_pull(
    *, follow_id: int, batch_blocks: int = BATCH_BLOCKS, source_factory=None
) -> PullResult:
    """Bring the followed book up to date from its sources, best score first: every batch is
    verified before it is stored, in one transaction; a source that fails is recorded, loses
    score and waits before it is asked again, and the next one is tried."""
    source_factory = source_factory or _http_source
    follow = Follow.objects.select_related("log").get(pk=follow_id)
    if follow.state != FollowState.ACTIVE:
        return PullResult(0, follow.log.length, problem=f"the follow is {follow.state}")
    # Blocks stored count even when their source fails later in the pull: they are verified.
    progress = _Progress()
    with storage.writer_lease(follow.log_id):
        problem = "no source is due"
        for source in _sources_due(follow):
            client = source_factory(source.url)
            try:
                current = Follow.objects.select_related("log").get(pk=follow_id)
                _pull_from(current, client, batch_blocks, progress)
            except PulledElsewhere as elsewhere:
                return _result(follow, progress, source.url, str(elsewhere))
            except ReplicationError as error:
                _source_failed(follow, source, error)
                problem = f"{source.url}: {error.detail}"
                if error.fault == ReplicationFault.FORK:
                    break
                continue
            finally:
                client.close()
            _source_answered(source)
            return _result(follow, progress, source.url, None)
    return _result(follow, progress, None, problem)


@dataclass
class _Progress:
    stored: int = 0


def _result(follow: Follow, progress: _Progress, source: str | None, problem: str | None):
    length = Log.objects.values_list("length", flat=True).get(pk=follow.log_id)
    return PullResult(progress.stored, length, source, problem)


def _http_source(url: str) -> HttpSource:
    return HttpSource(url, allow_private=settings.GROWR_FOLLOW_PRIVATE_SOURCES)


def _sources_due(follow: Follow) -> list[FollowSource]:
    return list(
        follow.sources.filter(next_try_at__lte=timezone.now(), score__gt=SCORE_DROPPED).order_by(
            "-score", "failures"
        )
    )


def _pull_from(follow: Follow, client: HttpSource, batch_blocks: int, progress: _Progress) -> None:
    log = follow.log
    remote = client.book(bytes(log.key))
    if LogKeys.for_public_key(remote.public_key, Mode.MANIFEST).key != bytes(log.key):
        raise ReplicationError("wrong_key", "the writer's public key does not match the book key")
    if not log.public_key:
        Log.objects.filter(pk=log.pk).update(public_key=remote.public_key)
        log.public_key = remote.public_key
        read_cache.books_changed(book=log.book)
    keys = log.core_keys
    verify_head(keys, remote.head)
    _check_against_ours(follow, remote.head, url=client.base_url)
    Follow.objects.filter(pk=follow.pk, remote_length__lt=remote.head.length).update(
        remote_length=remote.head.length
    )
    if follow.sparse:
        progress.stored += _pull_sparse(follow, client, keys, remote.head)
        return
    # The next batch is fetched while this one is verified and stored: the source's time and
    # ours overlap instead of adding up.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="follow-fetch") as fetcher:
        _pull_batches(follow, client, fetcher, keys, remote.head, batch_blocks, progress)


def _pull_batches(
    follow, client, fetcher, keys, head: RemoteHead, batch_blocks: int, progress: _Progress
) -> None:
    log = follow.log
    trusted = _trusted(follow)

    def fetch(start: int, target: int):
        return fetcher.submit(
            client.range, bytes(log.key), start, min(start + batch_blocks, target)
        )

    pending = fetch(trusted.length, head.length) if trusted.length < head.length else None
    while pending is not None:
        answer = pending.result()
        verify_head(keys, answer.head)  # first: only the writer's own heads may count
        if answer.head.length < head.length:
            raise ReplicationError("shorter_head", "the head went back during the pull")
        head = answer.head
        _check_against_ours(follow, head, url=client.base_url)
        batch = verify_batch(keys, trusted, answer, fork=log.fork)
        pending = fetch(batch.length, head.length) if batch.length < head.length else None
        _store_batch(follow, answer, batch)
        progress.stored += len(answer.values)
        trusted = TreeBatch(batch.roots, batch.length, batch.byte_length, log.fork)


def _pull_sparse(follow: Follow, client: HttpSource, keys, head: RemoteHead) -> int:
    """A sparse follow: the blocks of its window not yet held, each with its own proof against
    the signed head, stored with the head in one transaction; blocks that left the window (the
    newest N moved on) are let go."""
    log = follow.log
    keep_from, window_end = follow.window(head.length)
    start = max(log.length, keep_from)
    if start >= window_end:
        return 0
    answer = client.blocks(bytes(log.key), start, window_end, since=log.length)
    verify_head(keys, answer.head)
    _check_against_ours(follow, answer.head, url=client.base_url)
    trusted = TreeBatch.from_roots(unpack_roots(bytes(log.roots)), log.fork)
    roots, blocks = verify_blocks(keys, trusted, answer, fork=log.fork)
    head = answer.head
    if [b.index for b in blocks] != list(range(start, window_end)):
        raise ReplicationError("malformed", f"the blocks are not [{start}, {window_end})")
    with transaction.atomic():
        if not storage.move_followed_head(
            log_id=log.pk,
            expected_length=log.length,
            head=(head.length, head.fork, head.tree_hash, head.signature),
            byte_length=sum(r.size for r in roots),
            roots=pack_roots(roots),
            signed_at=timezone.now(),
        ):
            raise PulledElsewhere(f"the head of {log} was moved by another pull")
        storage.store_blocks(
            log_id=log.pk,
            first=start,
            blocks=[b.value for b in blocks],
            records=[b.record for b in blocks],
        )
        for model in (BookEntry, Block):
            key = "block_index" if model is BookEntry else "index"
            model.objects.filter(log_id=log.pk, **{f"{key}__lt": keep_from}).delete()
        BookKey.objects.filter(log_id=log.pk, block_index__lt=keep_from).delete()
        storage.index_add(log_id=log.pk, rows=_index_rows(start, [b.value for b in blocks]))
        read_cache.books_changed(book=log.book)
        Follow.objects.filter(pk=follow.pk).update(
            verified_length=head.length,
            verified_byte_length=sum(r.size for r in roots),
            verified_roots=pack_roots(roots),
            indexed_length=head.length,
            last_synced_at=timezone.now(),
        )
    return len(blocks)


def _check_against_ours(follow: Follow, head: RemoteHead, *, url: str) -> None:
    """A verified HEAD must not go back, and at our length must be our tree: two valid
    signatures for one length are a fork, kept as evidence."""
    log = follow.log
    if head.length < max(log.length, follow.verified_length):
        raise ReplicationError(
            "shorter_head",
            f"head {head.length} is shorter than the {max(log.length, follow.verified_length)} "
            "blocks already verified",
        )
    if head.length == log.length and log.length and head.tree_hash != bytes(log.tree_hash):
        ForkEvidence.objects.create(
            follow=follow,
            length=head.length,
            ours=_head_json(log.fork, bytes(log.tree_hash), bytes(log.signature)),
            theirs=_head_json(head.fork, head.tree_hash, head.signature),
            url=url,
        )
        raise ReplicationError("fork", f"two signed trees for length {head.length}")


def _head_json(fork: int, tree_hash: bytes, signature: bytes) -> dict:
    return {"fork": fork, "tree_hash": tree_hash.hex(), "signature": signature.hex()}


def _trusted(follow: Follow) -> TreeBatch:
    return TreeBatch.from_roots(unpack_roots(bytes(follow.verified_roots)), follow.log.fork)


def _store_batch(follow: Follow, answer: RemoteRange, batch: TreeBatch) -> None:
    """Store a verified batch, and the head if the batch reaches it, in one transaction that
    another pull of the same book cannot also commit."""
    log, now = follow.log, timezone.now()
    head = answer.head
    with transaction.atomic():
        moved = Follow.objects.filter(pk=follow.pk, verified_length=answer.start).update(
            verified_length=batch.length,
            verified_byte_length=batch.byte_length,
            verified_roots=pack_roots(batch.roots),
            last_synced_at=now,
        )
        if moved != 1:
            raise PulledElsewhere(f"blocks from {answer.start} were stored by another pull")
        storage.store_blocks(
            log_id=log.pk, first=answer.start, blocks=answer.values, records=batch.records
        )
        if batch.length == head.length and not storage.move_followed_head(
            log_id=log.pk,
            expected_length=log.length,
            head=(head.length, head.fork, head.tree_hash, head.signature),
            byte_length=batch.byte_length,
            roots=pack_roots(batch.roots),
            signed_at=now,
        ):
            raise PulledElsewhere(f"the head of {log} was moved by another pull")
        read_cache.books_changed(book=log.book)
    follow.verified_length = batch.length
    follow.verified_byte_length = batch.byte_length
    follow.verified_roots = pack_roots(batch.roots)
    if batch.length == head.length:
        log.length, log.tree_hash, log.signature = head.length, head.tree_hash, head.signature


INDEX_CHUNK = 5000


def follow_index(*, follow_id: int) -> int:
    """Bring the key/value index of a followed book up to its signed head, in chunks, each in
    one transaction; return how many blocks it indexed. The pull leaves this to a task of its
    own: the index is derived from blocks already verified and stored, so it may trail them."""
    indexed = 0
    while True:
        with transaction.atomic():
            follow = Follow.objects.select_for_update().select_related("log").get(pk=follow_id)
            start, end = (
                follow.indexed_length,
                min(follow.log.length, follow.indexed_length + INDEX_CHUNK),
            )
            if start >= end:
                return indexed
            values = storage.blocks_in_range(follow.log_id, start, end)
            rows = _index_rows(start, [values[i] for i in range(start, end)])
            storage.index_add(log_id=follow.log_id, rows=rows)
            Follow.objects.filter(pk=follow_id).update(indexed_length=end)
            read_cache.books_changed(book=follow.log.book)
        indexed += end - start


def _index_rows(first: int, values: list[bytes]) -> list[storage.IndexRow]:
    """Index rows of the blocks that are book entries; a block the writer signed but that is no
    entry is kept (it is part of the log) and left out of the index."""
    rows = []
    for index, value in enumerate(values, start=first):
        try:
            entry = decode_entry(value)
        except InvalidEntry:
            continue
        key, entry_type = entry["key"], entry["type"]
        if isinstance(key, str) and isinstance(entry_type, str) and KEY_RE.fullmatch(key):
            rows.append((index, key, entry_type[:64], entry["value"] is None))
    return rows


def _source_failed(follow: Follow, source: FollowSource, error: ReplicationError) -> None:
    now = timezone.now()
    failures = source.failures + 1
    backoff = min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_MAX)
    FollowSource.objects.filter(pk=source.pk).update(
        score=F("score") - SCORE_PENALTY.get(error.fault, DEFAULT_PENALTY),
        failures=failures,
        next_try_at=now + backoff,
        last_error=f"{error.fault}: {error.detail}"[:300],
    )
    ReplicationEvent.objects.create(
        follow=follow, source=source, url=source.url, fault=error.fault, detail=error.detail[:500]
    )
    if error.fault == ReplicationFault.FORK:
        Follow.objects.filter(pk=follow.pk).update(state=FollowState.FROZEN)
        logger.error("followed book %s forked (%s)", bytes(follow.log.key).hex(), error.detail)
        _alert_admins(f"The {follow.log.book} book you follow was forked by its writer: frozen.")
    else:
        logger.warning("pull of %s from %s failed: %s", follow, source.url, error.detail)


def _alert_admins(text: str) -> None:
    link = reverse("ledger:following")
    for user_id in User.objects.filter(role=Role.ORIGINATOR_ADMIN, is_active=True).values_list(
        "pk", flat=True
    ):
        notify_user(user_id=user_id, kind="following", text=text, link=link)


def _source_answered(source: FollowSource) -> None:
    FollowSource.objects.filter(pk=source.pk).update(
        score=Least(F("score") + 1, SCORE_MAX),
        failures=0,
        last_ok_at=timezone.now(),
        last_error="",
    )
