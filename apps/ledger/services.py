"""Writes to the public books: creating logs, appending signed batches, publishing entries.

Appending a batch is one transaction and one signature. Only the holder of a log's writer lease
signs it (one per log across every process of the node), and each append is conditional on the
head it was computed from, so two appends never sign or store the same length.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone

from . import read_cache, storage
from .entries import decode_entry, encode_entry
from .hypercore.crypto import discovery_key, key_pair
from .hypercore.heads import SignedHead as CoreHead
from .hypercore.signing import LogKeys, Mode, Signer
from .hypercore.tree import TreeBatch, pack_roots, unpack_roots
from .models import Block, Book, BookEntry, BookKey, Log, OutboxEntry
from .sealing import seal, unseal

logger = logging.getLogger(__name__)

MAX_APPEND_BLOCKS = 10_000


class LogTampered(Exception):
    """Stored data does not match the log's signed tree; nothing more is appended to it."""


def log_for_book(*, book: str) -> Log:
    """The node's log of BOOK, created with a fresh key pair on first use."""
    if book not in Book.values:
        raise ValueError(f"unknown book {book!r}")
    log = Log.objects.own().filter(book=book).first()
    return log if log is not None else _log_create(book)


@transaction.atomic
def _log_create(book: str) -> Log:
    pair = key_pair()
    keys = LogKeys.for_public_key(pair.public_key, Mode.MANIFEST)
    empty = TreeBatch([], 0, 0)
    log, _ = Log.objects.get_or_create(
        book=book,
        writer=True,
        defaults={
            "key": keys.key,
            "discovery_key": discovery_key(keys.key),
            "public_key": pair.public_key,
            "sealed_secret_key": seal(pair.secret_key),
            "tree_hash": empty.tree_hash(),
        },
    )
    return log


class LogWriter:
    """Appends signed batches to one log while its writer lease is held (see log_writer)."""

    def __init__(self, log: Log, *, keeps_head: bool) -> None:
        self.log = log
        self._keeps_head = keeps_head
        self._kept_tree: TreeBatch | None = None
        self._signer: Signer | None = None

    def append(self, blocks: Sequence[bytes]) -> CoreHead:
        """Append BLOCKS as one signed batch; return the new signed head."""
        if not blocks:
            raise ValueError("nothing to append")
        if len(blocks) > MAX_APPEND_BLOCKS:
            raise ValueError(f"at most {MAX_APPEND_BLOCKS} blocks per batch")
        if self._keeps_head:
            return self._append(blocks)
        # Without a kept head, the head is read in the transaction that writes the batch.
        with transaction.atomic():
            return self._append(blocks)

    def _append(self, blocks: Sequence[bytes]) -> CoreHead:
        batch, self._kept_tree = self._kept_tree or self._stored_tree(), None
        expected = (batch.length, batch.fork)
        batch.append_all(bytes(b) for b in blocks)
        tree = batch.tree_hash()
        head = CoreHead(batch.length, batch.fork, tree, self._sign(tree, batch))
        roots = pack_roots(batch.roots)
        stored = storage.write_append(
            log_id=self.log.pk,
            expected=expected,
            blocks=blocks,
            records=batch.records,
            head=head,
            byte_length=batch.byte_length,
            roots=roots,
            signed_at=timezone.now(),
        )
        if not stored:
            raise LogTampered(f"{self.log.book}: the head changed without the writer lease")
        if self._keeps_head:
            self._kept_tree = TreeBatch(batch.roots, batch.length, batch.byte_length, batch.fork)
        log = self.log
        log.length, log.byte_length, log.roots = batch.length, batch.byte_length, roots
        log.tree_hash, log.signature = head.tree_hash, head.signature
        return head

    def _sign(self, tree: bytes, batch: TreeBatch) -> bytes:
        if self._signer is None:
            secret_key = unseal(bytes(self.log.sealed_secret_key))
            self._signer = Signer(self.log.core_keys, secret_key)
        return self._signer.sign(tree, batch.length, batch.fork)

    def _stored_tree(self) -> TreeBatch:
        current = storage.read_head(self.log.pk)
        stored = TreeBatch.from_roots(unpack_roots(current["roots"]), fork=current["fork"])
        if stored.length != current["length"] or stored.tree_hash() != current["tree_hash"]:
            raise LogTampered(f"{self.log.book}: the stored roots do not match the signed head")
        return stored


@contextmanager
def log_writer(*, log: Log) -> Iterator[LogWriter]:
    """Take LOG's writer lease, so this is the only place of the node that signs it, and give a
    writer for any number of appends. Outside a transaction each append commits on its own (one
    statement for a small batch on PostgreSQL); inside one, they commit with it."""
    with storage.writer_lease(log.pk) as keeps_head:
        yield LogWriter(log, keeps_head=keeps_head)


def log_append(*, log: Log, blocks: Sequence[bytes]) -> CoreHead:
    """Append BLOCKS to LOG as one signed batch; return the new signed head."""
    with log_writer(log=log) as writer:
        return writer.append(blocks)


# No savepoint: an error here fails the caller's change anyway, and publishing is on the path
# of every money-moving request (two round trips saved per entry).
@transaction.atomic(savepoint=False)
def book_publish(*, book: str, entry_type: str, version: int, key: str, value) -> OutboxEntry:
    """Publish an entry to BOOK from inside the caller's transaction (transactional outbox).

    The entry is validated against its schema now; it is appended after the caller commits
    (see outbox_flush), and never if the caller rolls back.
    """
    data = encode_entry(book=book, entry_type=entry_type, version=version, key=key, value=value)
    # Holding the log row until the caller commits makes id order the commit order. Finding and
    # locking it is one query; the first entry of a book creates its log.
    locked = Log.objects.own().select_for_update().filter(book=book).values_list("pk", flat=True)
    if not locked.exists():
        log_for_book(book=book)
        locked.exists()
    entry = OutboxEntry.objects.create(book=book, key=key, entry_type=entry_type, data=data)
    _flush_after_commit(book)
    return entry


class _FlushBooks:
    """One flush task for every book a transaction published to, sent once it commits."""

    def __init__(self, book: str) -> None:
        self.books = {book}

    def __call__(self) -> None:
        from .tasks import outbox_flush_task

        # A broker out of reach must not fail the caller's committed change, and Django's
        # robust=True cannot log the failure of a callable object (it asks for __qualname__).
        try:
            outbox_flush_task.delay(*sorted(self.books))
        except Exception:
            logger.warning(
                "could not send the flush of %s: beat's outbox sweep appends them later",
                ", ".join(sorted(self.books)),
                exc_info=True,
            )


def _flush_after_commit(book: str) -> None:
    # A rolled-back transaction or savepoint drops its callbacks, so looking in the pending
    # callbacks (not in a flag of our own) never misses a flush.
    for _, callback, _ in transaction.get_connection().run_on_commit:
        if isinstance(callback, _FlushBooks):
            callback.books.add(book)
            return
    transaction.on_commit(_FlushBooks(book))


OUTBOX_BATCH = 1000


def outbox_flush(*, book: str) -> int:
    """Append every committed, unappended outbox entry of BOOK, in order; return how many."""
    appended = 0
    while True:
        log = log_for_book(book=book)
        # The lease before the row lock, in that order everywhere: publishers hold only the row.
        with transaction.atomic(), log_writer(log=log) as writer:
            # Waiting for publishers still holding the row makes id order the commit order.
            Log.objects.select_for_update().filter(pk=log.pk).exists()
            pending = list(
                OutboxEntry.objects.filter(book=book, block_index__isnull=True).order_by("id")[
                    :OUTBOX_BATCH
                ]
            )
            if not pending:
                return appended
            log.refresh_from_db()
            first = log.length
            writer.append([bytes(e.data) for e in pending])
            _index_entries(log, first, pending)
            for offset, entry in enumerate(pending):
                entry.block_index = first + offset
            OutboxEntry.objects.bulk_update(pending, ["block_index"])
            # Here, once per batch, rather than in the writer: a round trip to the cache per
            # append cost 40 % of the single appends of bench/bench_ledger.py.
            read_cache.books_changed(book=book)
            appended += len(pending)


def _index_entries(log: Log, first: int, pending: Sequence[OutboxEntry]) -> None:
    rows = [
        (
            first + offset,
            entry.key,
            entry.entry_type,
            decode_entry(bytes(entry.data))["value"] is None,
        )
        for offset, entry in enumerate(pending)
    ]
    storage.index_add(log_id=log.pk, rows=rows)


def node_profile_sync(*, name: str, url: str, role: str, trusted_issuers: Sequence[str]) -> bool:
    """Publish the node's profile (its books' keys included) if it changed; True if published."""
    books = [
        {"book": log.book, "key": bytes(log.key).hex()}
        for log in (log_for_book(book=book) for book in Book.values)
    ]
    profile = {
        "name": name,
        "role": role,
        "url": url,
        "books": books,
        "trusted_issuers": list(trusted_issuers),
    }
    with transaction.atomic():
        pending = OutboxEntry.objects.filter(book=Book.NODE_PROFILE).order_by("-id").first()
        if pending is not None and decode_entry(bytes(pending.data))["value"] == profile:
            return False
        book_publish(
            book=Book.NODE_PROFILE,
            entry_type="growr/node-profile",
            version=1,
            key="profile",
            value=profile,
        )
    return True


@transaction.atomic
def book_index_rebuild(*, log: Log, apply: bool) -> list[str]:
    """Derive the key/value index of LOG from its blocks alone and compare it with the stored
    one; with APPLY, replace the stored index. Returns the differences found."""
    Log.objects.select_for_update().filter(pk=log.pk).exists()
    derived: list[BookEntry] = []
    for index, data in (
        Block.objects.filter(log=log).order_by("index").values_list("index", "data").iterator()
    ):
        entry = decode_entry(bytes(data))
        derived.append(
            BookEntry(
                log=log,
                block_index=index,
                key=entry["key"],
                entry_type=entry["type"],
                is_deletion=entry["value"] is None,
            )
        )
    stored = {
        (e.block_index, e.key, e.entry_type, e.is_deletion)
        for e in BookEntry.objects.filter(log=log)
    }
    wanted = {(e.block_index, e.key, e.entry_type, e.is_deletion) for e in derived}
    latest = {e.key: (e.block_index, e.is_deletion) for e in derived}
    stored_keys = {k.key: (k.block_index, k.is_deleted) for k in BookKey.objects.filter(log=log)}
    differences = [f"block {b}: index says {k!r}, log does not" for b, k, *_ in stored - wanted]
    differences += [f"block {b}: log has {k!r}, index does not" for b, k, *_ in wanted - stored]
    differences += [
        f"key {key!r}: index points at block {stored_keys.get(key, ('none',))[0]}, "
        f"log's latest is {block}"
        for key, (block, _) in latest.items()
        if stored_keys.get(key, (None,))[0] != block
    ]
    differences += [
        f"key {k!r}: in the index but not in the log" for k in stored_keys.keys() - latest.keys()
    ]
    if apply and differences:
        read_cache.books_changed(book=log.book)
        BookKey.objects.filter(log=log).delete()
        BookEntry.objects.filter(log=log).delete()
        BookEntry.objects.bulk_create(derived)
        BookKey.objects.bulk_create(
            BookKey(log=log, key=k, block_index=b, is_deleted=d) for k, (b, d) in latest.items()
        )
    return sorted(differences)
