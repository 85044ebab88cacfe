"""Writes of discovery: the durable peer table, in batches from the agent's live view, and this
node's own gossip identity and record.

Peer writes are upserts that cannot go backwards: a record replaces the stored one only with a
higher seq, a state only with a higher (incarnation, status), so a late or replayed batch, or two
writers racing, never undo newer knowledge (reference/gossip.md §7.1).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.identity.models import User
from apps.identity.permissions import ORIGINATOR_ADMIN_ONLY, has_role
from apps.ledger.follow_services import follow_sources_add, follow_start, follow_stop
from apps.ledger.models import Follow, FollowState, Log
from apps.ledger.sealing import seal, unseal
from apps.ledger.tasks import follow_pull_task

from . import selectors
from .gossip.agent import AgentStatus, PeerView, RoundTripSeen
from .gossip.claims import COPY_SUFFIX, BookAnnouncement, NodeRecord, Role, Status
from .gossip.records import MAX_BOOKS, MAX_KIND_BYTES, NodeKey, RecordError, sign_record
from .gossip.transport import Address, parse_address
from .models import Ban, NodeIdentity, Peer, Seed

logger = logging.getLogger(__name__)

# The books a node follows on every originator node it hears of, up to a limit: an investor
# node the projects (what its investors browse), the funding (the state of their commitments),
# the payments (the repayments their distributions come from) and the loans (how the loans they
# fund perform: status, arrears, the agreements' hashes); an originator node the
# credential status lists (so it checks revocation of other originators' credentials offline).
AUTO_FOLLOWED_KINDS = {
    Role.INVESTOR: frozenset({"projects", "funding", "payments", "loans"}),
    Role.ORIGINATOR: frozenset({"credential_status"}),
}
AUTO_FOLLOW_LIMIT = 200
# Which followed copies a node announces first when its record cannot hold them all: what
# investor nodes browse first, the loan books (the longest, the least urgent) last.
ANNOUNCED_COPIES_FIRST = ("projects", "funding", "payments", "loans")

_SAVE_RECORD = (
    "INSERT INTO discovery_peer (node_id, public_key, seq, record, role, name, url, gossip_host, "
    "gossip_port, books, status, incarnation, first_seen, last_seen) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s) "
    "ON CONFLICT (node_id) DO UPDATE SET public_key = excluded.public_key, seq = excluded.seq, "
    "record = excluded.record, role = excluded.role, name = excluded.name, url = excluded.url, "
    "gossip_host = excluded.gossip_host, gossip_port = excluded.gossip_port, "
    "books = excluded.books, last_seen = excluded.last_seen WHERE excluded.seq > discovery_peer.seq"
)
_SAVE_STATE = (
    "UPDATE discovery_peer SET status = %s, incarnation = %s, last_seen = %s "
    "WHERE node_id = %s AND (incarnation < %s OR (incarnation = %s AND status < %s))"
)


@transaction.atomic
def peer_records_save(*, records: Iterable[NodeRecord], seen_at: datetime) -> None:
    """Store verified RECORDS (records.open_record) that are newer than what is stored."""
    rows = [
        (
            r.node_id,
            r.public_key,
            r.seq,
            r.raw,
            r.role.value,
            r.name,
            r.url,
            r.gossip_host,
            r.gossip_port,
            _books_json(r),
            int(Status.ALIVE),
            seen_at,
            seen_at,
        )
        for r in records
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_SAVE_RECORD, rows)


@transaction.atomic
def peer_states_save(*, states: Iterable[tuple[bytes, Status, int]], seen_at: datetime) -> None:
    """Store (node id, status, incarnation) states heard about known peers, if newer."""
    rows = [
        (int(status), incarnation, seen_at, node_id, incarnation, incarnation, int(status))
        for node_id, status, incarnation in states
    ]
    with connection.cursor() as cursor:
        cursor.executemany(_SAVE_STATE, rows)


_SAVE_ROUND_TRIP = (
    "UPDATE discovery_peer SET round_trip_ms = %s, last_seen = %s "
    "WHERE node_id = %s AND last_seen <= %s"
)


def peer_round_trips_save(*, round_trips: Iterable[RoundTripSeen]) -> None:
    """A probe answered is the freshest sign of life: keep its time and how long it took."""
    rows = []
    for trip in round_trips:
        seen_at = datetime.fromtimestamp(trip.seen_at, tz=UTC)
        rows.append((trip.seconds * 1000, seen_at, trip.node_id, seen_at))
    with connection.cursor() as cursor:
        cursor.executemany(_SAVE_ROUND_TRIP, rows)


@transaction.atomic
def agent_view_save(*, view: PeerView) -> None:
    """What the agent learnt since its last flush, and its status (the page's heartbeat)."""
    now = timezone.now()
    peer_records_save(records=view.records, seen_at=now)
    _follow_announced_books(records=view.records)
    peer_states_save(
        states=[(s.node_id, s.status, s.incarnation) for s in view.states], seen_at=now
    )
    peer_round_trips_save(round_trips=view.round_trips)
    _agent_status_save(status=view.status, at=now)


def _agent_status_save(*, status: AgentStatus, at: datetime) -> None:
    NodeIdentity.objects.filter(singleton=True).update(
        heartbeat_at=at,
        health=status.health,
        counters={
            "members": status.members,
            "refused": status.refused,
            "refused_updates": status.refused_updates,
            "stale_updates": status.stale_updates,
            "send_failures": status.send_failures,
            "dropped_sends": status.dropped_sends,
        },
    )


@transaction.atomic
def node_identity_start() -> tuple[NodeKey, NodeIdentity]:
    """The node key (created on first start) and a raised incarnation for this start: a node
    back from the dead must outrank the DEAD claims about its previous life, and others accept
    accusations only at incarnations the node itself announced (membership.py)."""
    identity = NodeIdentity.objects.select_for_update().filter(singleton=True).first()
    if identity is None:
        key = NodeKey.generate()
        identity = NodeIdentity(sealed_seed=seal(key.seed), public_key=key.public_key)
    identity.started_at = timezone.now()
    # Never below the clock either: a node whose database was restored from an old backup still
    # outranks what the network remembers of its previous life.
    identity.incarnation = max(identity.incarnation + 1, int(identity.started_at.timestamp()))
    identity.save()
    return NodeKey.from_seed(unseal(bytes(identity.sealed_seed))), identity


def own_record_next(
    *, key: NodeKey, network_id: bytes, current: NodeRecord | None
) -> NodeRecord | None:
    """This node's record as settings and its books say it should be, signed with the next seq,
    or None if CURRENT already says all that."""
    host, port = gossip_advertised_address()
    wanted = {
        "role": Role(settings.GROWR_NODE_ROLE),
        "name": settings.GROWR_NODE_NAME[:64],
        "url": settings.GROWR_PUBLIC_URL,
        "gossip_host": host,
        "gossip_port": port,
    }
    wanted["books"] = _books_that_fit(key, network_id, wanted)
    if current is not None and all(getattr(current, f) == v for f, v in wanted.items()):
        return None
    with transaction.atomic():
        identity = NodeIdentity.objects.select_for_update().get(singleton=True)
        identity.record_seq += 1
        record = sign_record(key, network_id=network_id, seq=identity.record_seq, **wanted)
        identity.record = record.raw
        identity.save(update_fields=["record_seq", "record"])
    return record


def _books_that_fit(key: NodeKey, network_id: bytes, fields: dict) -> tuple[BookAnnouncement, ...]:
    """The books to announce: this node's own, then the whole copies it holds of books it
    follows (so followers find more than the writer to pull from), as many as a record holds."""
    books = list(_served_books())[:MAX_BOOKS]
    while books:
        try:
            sign_record(key, network_id=network_id, seq=0, books=books, **fields)
        except RecordError:
            books.pop()  # over the record's size: the last followed book makes room
            continue
        break
    return tuple(books)


def _served_books() -> list[BookAnnouncement]:
    """Own books first, then followed copies of the books investor nodes follow (in the order
    of ANNOUNCED_COPIES_FIRST), then the rest."""
    logs = Log.objects.filter(
        Q(writer=True) | Q(length__gt=0, follow__keep_latest=None, follow__range_start=None)
    )
    rows = sorted(
        logs.values_list("writer", "book", "pk", "key", "length"),
        key=lambda row: (
            not row[0],
            ANNOUNCED_COPIES_FIRST.index(row[1])
            if row[1] in ANNOUNCED_COPIES_FIRST
            else len(ANNOUNCED_COPIES_FIRST),
            row[1],
            row[2],
        ),
    )
    kinds = [
        (book if writer else book + COPY_SUFFIX, key, length)
        for writer, book, _, key, length in rows
    ]
    return [
        BookAnnouncement(bytes(key), kind, length)
        for kind, key, length in kinds
        if len(kind) <= MAX_KIND_BYTES
    ]


def gossip_bind_address() -> Address:
    return parse_address(settings.GROWR_GOSSIP_BIND)


def gossip_advertised_address() -> Address:
    """The address peers are told to reach this node at: GROWR_GOSSIP_ADVERTISE, else the bound
    one (settings refuse an unspecified bind address without an advertised one)."""
    return parse_address(settings.GROWR_GOSSIP_ADVERTISE or settings.GROWR_GOSSIP_BIND)


def _follow_announced_books(*, records: Sequence[NodeRecord]) -> None:
    """Every node that announces a followed book becomes a source of it; a node also follows
    by itself one kind of book of every originator (AUTO_FOLLOWED_KINDS)."""
    announced = [(record, book) for record in records for book in record.books]
    auto_followed_kinds = AUTO_FOLLOWED_KINDS[Role(settings.GROWR_NODE_ROLE)]
    followed = {
        bytes(key): follow
        for key, follow in (
            (f.log.key, f)
            for f in Follow.objects.select_related("log").filter(
                log__key__in=[book.key for _, book in announced]
            )
        )
    }
    behind = set()
    for record, book in announced:
        follow = followed.get(book.key)
        if follow is not None:
            follow_sources_add(follow=follow, urls=[record.url])
            if book.length > follow.log.length and follow.state == FollowState.ACTIVE:
                behind.add(follow.pk)
        elif (
            record.role is Role.ORIGINATOR
            and book.kind in auto_followed_kinds
            and _auto_follows_left()
        ):
            followed[book.key] = follow_start(
                key=book.key, kind=book.kind, sources=[record.url], publisher=record.node_id
            )
            behind.add(followed[book.key].pk)
    # Gossip brings a writer's new lengths within seconds: pull at once instead of at the poll.
    # Lambdas, not partials: Django's robust=True names a failed callback by its __qualname__.
    for follow_id in behind:
        transaction.on_commit(lambda pk=follow_id: follow_pull_task.delay(pk), robust=True)


def _auto_follows_left() -> bool:
    """Whether this node may follow one more book by itself: anyone can announce an originator
    node, so the books followed without a person's choice are capped (staff may add more)."""
    if Follow.objects.filter(chosen_by=None).count() < AUTO_FOLLOW_LIMIT:
        return True
    logger.warning("not following more books by itself: %d already", AUTO_FOLLOW_LIMIT)
    return False


def book_follow(*, key: bytes, chosen_by: User) -> Follow:
    """Follow the book KEY, from every known node that announces it; ValidationError if none
    does."""
    _require_network_admin(chosen_by)
    announcers = selectors.book_announcers(key=key)
    if not announcers:
        raise ValidationError("No known node announces that book.")
    writers = [a for a in announcers if not a[1].endswith(COPY_SUFFIX)]
    _, kind, _ = announcers[0]
    return follow_start(
        key=key,
        kind=kind.removesuffix(COPY_SUFFIX),
        sources=[url for _, _, url in announcers],
        publisher=writers[0][0] if writers else None,
        chosen_by=chosen_by,
    )


def book_unfollow(*, key: bytes, chosen_by: User) -> None:
    _require_network_admin(chosen_by)
    follow = Follow.objects.filter(log__key=key).first()
    if follow is not None:
        follow_stop(follow=follow)


def seed_add(*, address: str, added_by: User) -> Seed:
    """Add ADDRESS (HOST:PORT) to the stored seeds; ValidationError says why it is refused."""
    _require_network_admin(added_by)
    try:
        host, port = parse_address(address)
    except ValueError as error:
        raise ValidationError(str(error)) from None
    seed, _ = Seed.objects.get_or_create(host=host, port=port)
    return seed


def seed_remove(*, seed_id: int, removed_by: User) -> None:
    _require_network_admin(removed_by)
    Seed.objects.filter(pk=seed_id).delete()


def node_ban(*, node_id: bytes, reason: str, banned_by: User) -> Ban:
    """Ban a known node; the agent stops talking to it within its next store refresh."""
    _require_network_admin(banned_by)
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why the node is banned; the team will want to know.")
    if not Peer.objects.filter(node_id=node_id).exists():
        raise ValidationError("No known node has that id.")
    ban, _ = Ban.objects.update_or_create(
        node_id=node_id, defaults={"reason": reason[:200], "banned_by": banned_by}
    )
    return ban


def node_ban_lift(*, node_id: bytes, lifted_by: User) -> None:
    _require_network_admin(lifted_by)
    Ban.objects.filter(node_id=node_id).delete()


def _require_network_admin(user: User) -> None:
    if not has_role(user, ORIGINATOR_ADMIN_ONLY):
        raise PermissionDenied("Only an originator admin changes how this node joins the network.")


def _books_json(record: NodeRecord) -> str:
    return json.dumps(
        [{"key": b.key.hex(), "kind": b.kind, "length": b.length} for b in record.books]
    )
