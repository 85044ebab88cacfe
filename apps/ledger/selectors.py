"""Reads of the public books: ranges of blocks with their proofs, entries by key, verification."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.node.cache import kept_at_version

from . import read_cache, storage
from .entries import InvalidEntry, decode_entry
from .hypercore import flat_tree
from .hypercore.crypto import Node, tree_hash
from .hypercore.errors import HypercoreError
from .hypercore.heads import SignedHead as CoreHead
from .hypercore.proofs import BlockRequest, Proof, UpgradeRequest, assemble_proof, plan_proof
from .hypercore.tree import NODE_RECORD, TreeBatch, block_record_nodes
from .models import (
    Block,
    Book,
    BookEntry,
    BookKey,
    Follow,
    FollowSource,
    FollowState,
    ForkEvidence,
    Log,
    OutboxEntry,
    ReplicationEvent,
    SignedHead,
)

MAX_RANGE_BLOCKS = 1000
MAX_HISTORY = 500


class RangeError(ValueError):
    """A requested range that the log cannot answer; the message says why."""


def books_with_pending_entries() -> list[str]:
    return list(
        OutboxEntry.objects.filter(block_index__isnull=True)
        .values_list("book", flat=True)
        .distinct()
        .order_by("book")
    )


def follows_to_poll() -> list[int]:
    """The follows a poll pulls: active, with a source due."""
    due = FollowSource.objects.filter(
        next_try_at__lte=timezone.now(), score__gt=0, follow_id=OuterRef("pk")
    )
    return list(
        Follow.objects.filter(state=FollowState.ACTIVE)
        .filter(Exists(due))
        .values_list("pk", flat=True)
    )


def log_by_key(*, key_hex: str) -> Log | None:
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        return None
    return Log.objects.filter(key=key).first() if len(key) == 32 else None


def current_head(log: Log) -> CoreHead:
    return CoreHead(log.length, log.fork, bytes(log.tree_hash), bytes(log.signature))


@dataclass(frozen=True)
class RangeWithProofs:
    head: CoreHead
    upgrade: Proof | None
    blocks: list[Proof]


def log_range(*, log: Log, start: int, end: int, since: int = 0) -> RangeWithProofs:
    """Blocks [start, end) with what a reader who trusts length SINCE needs to verify them.

    The upgrade proof takes the reader from SINCE to the current signed head; each block comes
    with its uncles up to the head's root that covers it, so every block hashes up to a root the
    upgrade proved (or one the reader already had).
    """
    length = log.length
    if not 0 <= start < end <= length:
        raise RangeError(f"blocks [{start}, {end}) are outside the log's {length} blocks")
    if end - start > MAX_RANGE_BLOCKS:
        raise RangeError(f"at most {MAX_RANGE_BLOCKS} blocks per request")
    if not 0 <= since <= length:
        raise RangeError(f"since must be between 0 and {length}")
    upgrade_request = UpgradeRequest(since, length - since) if since < length else None
    block_requests = [BlockRequest(i, levels_to_root(i, length)) for i in range(start, end)]
    plans = [plan_proof(length, block=r) for r in block_requests]
    upgrade_plan = plan_proof(length, upgrade=upgrade_request) if upgrade_request else None
    wanted = set().union(*(p.indexes() for p in plans))
    if upgrade_plan:
        wanted |= upgrade_plan.indexes()
    node = _stored_nodes(log, wanted)
    values = storage.blocks_in_range(log.pk, start, end)
    head = current_head(log)
    upgrade = None
    if upgrade_plan:
        upgrade = _upgrade_proof(log, upgrade_plan, upgrade_request, node, head)
    blocks = [
        assemble_proof(
            plan,
            node,
            fork=log.fork,
            block=request,
            block_value=values.get(request.index),
            upgrade=None,
            signature=None,
        )
        for plan, request in zip(plans, block_requests, strict=True)
    ]
    return RangeWithProofs(head, upgrade, blocks)


MAX_REPLICATION_BLOCKS = 2000
MAX_REPLICATION_BYTES = 8 * 1024 * 1024


@dataclass
class ReplicationRange:
    head: CoreHead
    values: list[bytes]
    # Proves the head from length END for a reader that computed the roots at END itself (from
    # the roots it trusts at START and these values); None when END is the head's length.
    upgrade: Proof | None


def log_replication_range(*, log: Log, start: int, end: int) -> ReplicationRange:
    """Blocks [start, end) as a follower verifies a batch of them in one go: it appends the
    values to its own tree and checks the result against the signed head, through the upgrade
    from END. Cheaper than a proof per block, and the same guarantee."""
    length = log.length
    if not 0 <= start < end <= length:
        raise RangeError(f"blocks [{start}, {end}) are outside the log's {length} blocks")
    if end - start > MAX_REPLICATION_BLOCKS:
        raise RangeError(f"at most {MAX_REPLICATION_BLOCKS} blocks per request")
    stored = storage.blocks_in_range(log.pk, start, end)
    values = [stored[i] for i in range(start, end) if i in stored]
    if len(values) != end - start:
        raise RangeError(f"blocks [{start}, {end}) are not all stored")
    if sum(map(len, values)) > MAX_REPLICATION_BYTES:
        raise RangeError(f"the blocks exceed {MAX_REPLICATION_BYTES} bytes; ask for fewer")
    head = current_head(log)
    if end == length:
        return ReplicationRange(head, values, None)
    request = UpgradeRequest(end, length - end)
    plan = plan_proof(length, upgrade=request)
    upgrade = _upgrade_proof(log, plan, request, _stored_nodes(log, plan.indexes()), head)
    return ReplicationRange(head, values, upgrade)


def _stored_nodes(log: Log, indexes) -> Callable[[int], Node]:
    """A lookup of the tree nodes INDEXES of LOG, read in one query."""
    nodes = storage.nodes_by_index(log.pk, indexes)

    def node(index: int) -> Node:
        found = nodes.get(index)
        if found is None:
            raise RangeError(f"node {index} is missing from storage")
        return found

    return node


def _upgrade_proof(log: Log, plan, request: UpgradeRequest, node, head: CoreHead) -> Proof:
    return assemble_proof(
        plan,
        node,
        fork=log.fork,
        block=None,
        block_value=None,
        upgrade=request,
        signature=head.signature,
    )


def levels_to_root(index: int, length: int) -> int:
    leaf = 2 * index
    for root in flat_tree.full_roots(2 * length):
        first, last = flat_tree.spans(root)
        if first <= leaf <= last:
            return flat_tree.depth(root)
    raise RangeError(f"block {index} is outside the log")


def book_entry(*, log: Log, key: str) -> tuple[int, dict] | None:
    """The latest entry of KEY (block index and entry), or None if the book never had it."""
    latest = BookKey.objects.filter(log=log, key=key).first()
    if latest is None:
        return None
    block = Block.objects.get(log=log, index=latest.block_index)
    return latest.block_index, decode_entry(bytes(block.data))


def latest_entries(
    *, book: str, log_keys: Iterable[bytes], keys: Iterable[str] = (), prefixes: Iterable[str] = ()
) -> dict[tuple[bytes, str], dict]:
    """The latest entry of each of KEYS, and of every key starting with one of PREFIXES, in the
    logs of BOOK this node holds whose keys are LOG_KEYS, by (log key, entry key): any node may
    write any key into a book of its own, so a reader names the books it trusts for them. Two
    queries whatever the number of keys."""
    wanted_keys = Q(key__in=list(keys))
    for prefix in prefixes:
        wanted_keys |= Q(key__startswith=prefix)
    rows = list(
        BookKey.objects.filter(
            wanted_keys, log__book=book, log__key__in=list(log_keys), is_deleted=False
        ).values_list("log_id", "log__key", "key", "block_index")
    )
    if not rows:
        return {}
    wanted = Q()
    for log_id, _, _, index in rows:
        wanted |= Q(log_id=log_id, index=index)
    data = {(b.log_id, b.index): bytes(b.data) for b in Block.objects.filter(wanted)}
    entries = {}
    for log_id, log, key, index in rows:
        try:
            entries[(bytes(log), key)] = decode_entry(data.get((log_id, index), b""))
        except InvalidEntry:
            continue
    return entries


def log_key(*, log_id: int) -> bytes | None:
    key = Log.objects.filter(pk=log_id).values_list("key", flat=True).first()
    return bytes(key) if key is not None else None


def followed_entries(*, log_id: int, book: str, indexes: Iterable[int]) -> dict[int, dict]:
    """The entries at INDEXES of LOG_ID, by index, if it is a followed log of BOOK (another
    node's, verified on the way in); blocks that are no entries are left out. Two queries."""
    if not Log.objects.filter(pk=log_id, writer=False, book=book).exists():
        return {}
    entries = {}
    for index, data in Block.objects.filter(log_id=log_id, index__in=list(indexes)).values_list(
        "index", "data"
    ):
        try:
            entries[index] = decode_entry(bytes(data))
        except InvalidEntry:
            continue
    return entries


def book_history(*, log: Log, key: str) -> list[tuple[int, dict]]:
    indexes = list(
        BookEntry.objects.filter(log=log, key=key)
        .order_by("-block_index")
        .values_list("block_index", flat=True)[:MAX_HISTORY]
    )
    blocks = Block.objects.filter(log=log, index__in=indexes).values_list("index", "data")
    by_index = {index: decode_entry(bytes(data)) for index, data in blocks}
    return [(i, by_index[i]) for i in indexes]


def book_latest_entries(*, log: Log, limit: int = 20) -> list[tuple[int, dict]]:
    blocks = Block.objects.filter(log=log).order_by("-index").values_list("index", "data")[:limit]
    result = []
    for index, data in blocks:
        try:
            result.append((index, decode_entry(bytes(data))))
        except InvalidEntry:
            result.append((index, {"type": "(not an entry)", "key": "", "value": None}))
    return result


@dataclass(frozen=True)
class Verification:
    ok: bool
    blocks_checked: int
    problem: str = ""


VERIFY_CHUNK = 5000


def log_verify(*, log: Log) -> Verification:
    """Re-derive the whole log from its stored blocks and check it against the stored tree, the
    stored heads and their signatures. The first problem found is named."""
    keys = log.core_keys
    heads = {h.length: h for h in SignedHead.objects.filter(log=log, fork=log.fork)}
    tree = TreeBatch([], 0, 0)
    for index, data, record in storage.blocks_with_records(log.pk, VERIFY_CHUNK):
        if index != tree.length:
            return Verification(False, tree.length, f"block {tree.length} is missing")
        tree.append(data)
        problem = _record_problem(index, tree.records.pop(), record)
        tree.nodes.clear()
        if problem:
            return Verification(False, index, f"block {index}: {problem}")
        head = heads.get(tree.length)
        if head is not None:
            problem = _check_head(keys, head, tree.roots)
            if problem:
                return Verification(False, tree.length, problem)
    checked = tree.length
    if checked != log.length:
        return Verification(False, checked, f"the head says {log.length} blocks, found {checked}")
    if checked and tree.tree_hash() != bytes(log.tree_hash):
        return Verification(False, checked, "the log's current head does not match its blocks")
    return Verification(True, checked)


def _record_problem(index: int, derived: bytes, stored: bytes) -> str:
    """Name the first stored node of block INDEX that differs from the one its data gives."""
    if derived == stored:
        return ""
    width = NODE_RECORD.size
    for depth, expected in enumerate(block_record_nodes(index, derived)):
        span = slice(depth * width, (depth + 1) * width)
        if stored[span] != derived[span]:
            kind = "leaf" if expected.index % 2 == 0 else "tree node"
            return f"stored {kind} {expected.index} does not match the block data"
    return "its stored tree nodes have extra bytes"


def _check_head(keys, head: SignedHead, roots: list[Node]) -> str:
    if tree_hash(roots) != bytes(head.tree_hash):
        return f"the signed head at length {head.length} does not match the blocks"
    try:
        CoreHead(head.length, head.fork, bytes(head.tree_hash), bytes(head.signature)).verify(keys)
    except HypercoreError:
        return f"the signature of the head at length {head.length} does not verify"
    return ""


@dataclass(frozen=True)
class FollowRow:
    follow: Follow
    key: str
    kind: str
    length: int
    verified_length: int
    lag: int
    sources: list[FollowSource]


def following_view() -> tuple[list[FollowRow], list, list]:
    """The Following page: every follow with its sources, the latest faults, the forks; a
    fixed number of queries whatever the number of follows."""
    follows = (
        Follow.objects.select_related("log", "chosen_by")
        .prefetch_related("sources")
        .order_by("log__book", "created_at")
    )
    rows = [
        FollowRow(
            follow=f,
            key=bytes(f.log.key).hex(),
            kind=f.log.book,
            length=f.log.length,
            verified_length=f.verified_length,
            lag=max(f.remote_length - f.log.length, 0),
            sources=list(f.sources.all()),
        )
        for f in follows
    ]
    events = list(ReplicationEvent.objects.select_related("follow__log")[:20])
    forks = list(ForkEvidence.objects.select_related("follow__log").order_by("-at"))
    return rows, events, forks


@dataclass(frozen=True)
class PublishedProject:
    """The latest entry of one project in a projects book, this node's own or a followed one.
    Everything here was verified against the writer's signature before it was stored."""

    entry_key: str
    value: dict
    book_key: str
    own: bool
    head_length: int
    last_synced_at: object  # datetime | None; None for the node's own book
    publisher: bytes | None
    source_url: str | None


def projects_books_version() -> str:
    """What every projects book this node holds is at, for the keys of cached catalogue pages:
    its signed tree hash, and for a followed one how far it is indexed (its entries show once
    indexed, after the pull). One query, at most once a second (read_cache.projects_version)."""
    return read_cache.projects_version(_projects_books_at)


Kept = TypeVar("Kept")


# Where the cache holds projects_books_version, for what else is kept beside it.
PROJECTS_BOOKS_VERSION_KEY = read_cache.PROJECTS_VERSION_KEY


def kept_while_projects_books_stay(*, key: str, build: Callable[[], Kept], seconds: int) -> Kept:
    """What BUILD gives, kept SECONDS under KEY until a projects book this node holds changes
    (projects_books_version): the version and what was kept come in one round trip."""
    return kept_at_version(
        key=key,
        version_key=PROJECTS_BOOKS_VERSION_KEY,
        version=projects_books_version,
        build=build,
        seconds=seconds,
    )


def _projects_books_at() -> str:
    heads = (
        Log.objects.filter(book=Book.PROJECTS)
        .order_by("pk")
        .values_list("tree_hash", "follow__indexed_length")
    )
    return ",".join(f"{bytes(tree_hash).hex()}:{indexed}" for tree_hash, indexed in heads)


def published_projects(*, offset: int, limit: int) -> tuple[list[PublishedProject], int]:
    """Projects of every projects book this node holds, newest entries first; three queries
    whatever the page size."""
    keys = BookKey.objects.filter(log__book=Book.PROJECTS, is_deleted=False, log__length__gt=0)
    total = keys.count()
    page = list(
        keys.select_related("log", "log__follow")
        .prefetch_related("log__follow__sources")
        .order_by("-block_index", "key")[offset : offset + limit]
    )
    if not page:
        return [], total
    wanted = Q()
    for row in page:
        wanted |= Q(log_id=row.log_id, index=row.block_index)
    data = {(b.log_id, b.index): bytes(b.data) for b in Block.objects.filter(wanted)}
    return [_published(row, data.get((row.log_id, row.block_index))) for row in page], total


def published_project(*, row: BookKey) -> PublishedProject:
    """The project entry ROW points at, as published_projects gives it."""
    block = Block.objects.filter(log_id=row.log_id, index=row.block_index).first()
    return _published(row, bytes(block.data) if block else None)


def _published(row: BookKey, data: bytes | None) -> PublishedProject:
    log = row.log
    follow = getattr(log, "follow", None) if not log.writer else None
    try:
        value = decode_entry(data or b"")["value"]
    except InvalidEntry:
        value = None
    sources = list(follow.sources.all()) if follow else []
    return PublishedProject(
        entry_key=row.key,
        value=value if isinstance(value, dict) else {},
        book_key=bytes(log.key).hex(),
        own=log.writer,
        head_length=log.length,
        last_synced_at=follow.last_synced_at if follow else None,
        publisher=bytes(follow.publisher) if follow and follow.publisher else None,
        source_url=sources[0].url if sources else None,
    )
