"""Reads of discovery: the peer table as pages and the agent need it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from apps.ledger.models import Follow

from .gossip.claims import COPY_SUFFIX
from .gossip.records import node_id_for
from .gossip.transport import Address, parse_address
from .models import Ban, NodeIdentity, Peer, PeerStatus, Seed

PICTURE_SIZE = 400
# The agent saves its status every two seconds; this much silence means it is not running.
AGENT_SILENT_AFTER = timedelta(seconds=15)


def gossip_seed_addresses(*, recent_peers: int = 16) -> list[Address]:
    """Where to join: the configured seeds, the seeds staff added, and the peers most recently
    seen alive, so a restarted node finds its network even when every seed is down."""
    configured = [parse_address(text) for text in settings.GROWR_GOSSIP_SEEDS]
    added = [(s.host, s.port) for s in Seed.objects.all()]
    peers = Peer.objects.filter(status=PeerStatus.ALIVE).order_by("-last_seen")[:recent_peers]
    remembered = [(p.gossip_host, p.gossip_port) for p in peers]
    return list(dict.fromkeys([*configured, *added, *remembered]))


@dataclass(frozen=True)
class BookRow:
    key: str
    kind: str
    copy: bool  # a copy the node serves of another node's book
    length: int
    followed: bool
    automatic: bool


@dataclass(frozen=True)
class PeerRow:
    node_id: str
    name: str
    role: str
    url: str
    status: str
    incarnation: int
    last_seen: datetime
    round_trip_ms: float | None
    gossip_address: str
    banned: bool
    books: list[BookRow]
    # Where the network picture draws it, in a 0..PICTURE_SIZE square.
    x: float
    y: float


@dataclass(frozen=True)
class ThisNode:
    name: str
    role: str
    network: str
    node_id: str
    address: str
    incarnation: int
    record_seq: int
    started_at: datetime | None
    heartbeat_at: datetime | None
    running: bool
    health: int
    counters: dict


@dataclass(frozen=True)
class BanRow:
    node_id: str
    name: str
    reason: str
    banned_at: datetime


@dataclass(frozen=True)
class NetworkView:
    this_node: ThisNode
    peers: list[PeerRow]
    counts: dict[str, int]
    seeds: list[Seed]
    bans: list[BanRow]
    picture_size: int = PICTURE_SIZE

    @property
    def centre(self) -> float:
        return self.picture_size / 2

    @property
    def announced_books(self) -> list[tuple[PeerRow, BookRow]]:
        return [(peer, book) for peer in self.peers for book in peer.books]

    @property
    def summary(self) -> str:
        """What a screen reader hears when the network changes."""
        known = len(self.peers)
        states = ", ".join(f"{count} {label}" for label, count in self.counts.items() if count)
        return f"{known} other node{'' if known == 1 else 's'} known" + (
            f": {states}." if states else "."
        )


def network_view(*, now: datetime | None = None) -> NetworkView:
    """Everything the Network page shows, in five queries whatever the number of peers."""
    now = now or timezone.now()
    follows = {bytes(f.log.key): f for f in Follow.objects.select_related("log")}
    bans = {bytes(b.node_id): b for b in Ban.objects.all()}
    peers = sorted(Peer.objects.all(), key=lambda p: (p.status, p.name.lower()))
    positions = _circle(len(peers))
    rows = [
        _peer_row(peer, follows, bytes(peer.node_id) in bans, *positions[i])
        for i, peer in enumerate(peers)
    ]
    names = {row.node_id: row.name for row in rows}
    counts = {status.label: 0 for status in PeerStatus}
    for row in rows:
        counts[row.status] += 1
    return NetworkView(
        this_node=_this_node(now),
        peers=rows,
        counts=counts,
        seeds=list(Seed.objects.all()),
        bans=[
            BanRow(node_id.hex(), names.get(node_id.hex(), "?"), ban.reason, ban.banned_at)
            for node_id, ban in bans.items()
        ],
    )


def banned_node_ids() -> frozenset[bytes]:
    return frozenset(bytes(node_id) for node_id in Ban.objects.values_list("node_id", flat=True))


def book_announcers(*, key: bytes) -> list[tuple[bytes, str, str]]:
    """(node id, kind, public URL) of every known node announcing the book KEY, the most
    recently seen first."""
    wanted = key.hex()
    return [
        (bytes(peer.node_id), book["kind"], peer.url)
        for peer in Peer.objects.only("node_id", "books", "url").order_by("-last_seen")
        for book in peer.books
        if book["key"] == wanted
    ]


def _peer_row(peer: Peer, follows: dict, banned: bool, x: float, y: float) -> PeerRow:
    books = []
    for book in peer.books:
        follow = follows.get(bytes.fromhex(book["key"]))
        books.append(
            BookRow(
                key=book["key"],
                kind=book["kind"].removesuffix(COPY_SUFFIX),
                copy=book["kind"].endswith(COPY_SUFFIX),
                length=book["length"],
                followed=follow is not None,
                automatic=follow is not None and follow.chosen_by_id is None,
            )
        )
    return PeerRow(
        node_id=bytes(peer.node_id).hex(),
        name=peer.name,
        role=peer.role,
        url=peer.url,
        status=PeerStatus(peer.status).label,
        incarnation=peer.incarnation,
        last_seen=peer.last_seen,
        round_trip_ms=peer.round_trip_ms,
        gossip_address=_address(peer.gossip_host, peer.gossip_port),
        banned=banned,
        books=books,
        x=x,
        y=y,
    )


def _this_node(now: datetime) -> ThisNode:
    identity = NodeIdentity.objects.filter(singleton=True).first() or NodeIdentity(sealed_seed=b"")
    heartbeat = identity.heartbeat_at
    return ThisNode(
        name=settings.GROWR_NODE_NAME,
        role=settings.GROWR_NODE_ROLE,
        network=settings.GROWR_NETWORK,
        node_id=node_id_for(bytes(identity.public_key)).hex() if identity.public_key else "",
        address=settings.GROWR_GOSSIP_ADVERTISE or settings.GROWR_GOSSIP_BIND,
        incarnation=identity.incarnation,
        record_seq=identity.record_seq,
        started_at=identity.started_at,
        heartbeat_at=heartbeat,
        running=heartbeat is not None and now - heartbeat < AGENT_SILENT_AFTER,
        health=identity.health,
        counters=identity.counters,
    )


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _circle(count: int) -> list[tuple[float, float]]:
    """COUNT points evenly on a circle around the picture's centre, the first at the top."""
    centre, radius = PICTURE_SIZE / 2, PICTURE_SIZE * 0.38
    return [
        (
            round(centre + radius * math.sin(2 * math.pi * i / count), 1),
            round(centre - radius * math.cos(2 * math.pi * i / count), 1),
        )
        for i in range(count)
    ]
