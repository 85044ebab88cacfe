"""One node's gossip protocol without I/O: verified messages and clock ticks in, messages to
send out. The asyncio agent feeds it from TCP (transport.py) and the simulator (bench/) from a
virtual network, so both run exactly this code.

Each probe period the node pings one member (round robin over a shuffled list, SWIM §4.3); if no
ack comes within the probe timeout it asks `indirect_checks` others to ping it (PING_REQ), whose
relays answer NACK when they hear nothing (Lifeguard); with no ack by the end of the period the
member is suspected. News rides on pings and acks and on a GOSSIP to `fanout` members every
gossip interval; push-pull anti-entropy (SYNC) runs on join and periodically. Local health
(Lifeguard's LHM) stretches the probe period and timeout while this node itself is slow.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from dataclasses import dataclass, field

from .claims import Claim, NodeRecord, Status
from .dissemination import Broadcasts
from .membership import Confirmed, Declare, Member, Membership, Refute, Timers
from .records import NodeKey, RecordError, sign_claim
from .wire import (
    MAX_SYNC_DELTAS,
    MAX_UPDATES,
    Ack,
    Gossip,
    Message,
    Nack,
    Ping,
    PingReq,
    Sync,
    SyncAck,
    SyncDeltas,
    Update,
)

MAX_HEALTH = 8
# A GOSSIP, PING or ACK stays well inside one 64 KiB frame and a few TCP segments.
PIGGYBACK_BUDGET = 8 * 1024
UPDATE_OVERHEAD = 3
NACK_AT = 0.8  # of the probe timeout: when a relay that heard nothing says so
GOSSIP_TO_THE_DEAD_SECONDS = 30.0
VERIFIED_CACHE = 4096
_SEQ_MODULUS = 2**32


class VerifiedUpdates:
    """Claims and records already verified, by their raw bytes: opening is a pure function of
    the bytes and the network, and the same update arrives many times. Bounded, least recently
    used out. The simulator shares one among all its nodes."""

    def __init__(self, *, network_id: bytes, size: int = VERIFIED_CACHE) -> None:
        self.network_id = network_id
        self.size = size
        self.refused = 0
        self._items: OrderedDict[bytes, Claim | NodeRecord] = OrderedDict()

    def open(self, update: Update) -> Claim | NodeRecord | None:
        known = self._items.get(update.raw)
        if known is not None:
            self._items.move_to_end(update.raw)
            return known
        try:
            item = update.open(network_id=self.network_id)
        except RecordError:
            self.refused += 1
            return None
        self._items[update.raw] = item
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return item


@dataclass(frozen=True)
class Outbound:
    """A message for the member NODE_ID at its advertised gossip address."""

    node_id: bytes
    host: str
    port: int
    message: Message


@dataclass
class _Probe:
    target: bytes
    seq_no: int
    started: float
    timeout_at: float
    ends_at: float
    acked: bool = False
    indirect: bool = False
    nacks_expected: int = 0
    nacks: int = 0


@dataclass
class _Relay:
    requester: bytes
    requester_seq: int
    nack_at: float
    answered: bool = False


@dataclass
class _Schedule:
    probe: float = 0.0
    gossip: float = 0.0
    sync: float = 0.0


@dataclass(frozen=True)
class RoundTrip:
    """The latest direct probe of a member that was acked: how long it took, and when."""

    seconds: float
    at: float


@dataclass
class Counters:
    probes: int = 0
    probes_failed: int = 0
    indirect_probes: int = 0
    suspicions: int = 0
    refutes: int = 0
    # Verified updates that told nothing new: replays, records whose seq does not rise, claims
    # outranked by what is known (gossip repeats news on purpose; a flood shows here).
    stale_updates: int = 0
    sent: dict[str, int] = field(default_factory=dict)


class GossipNode:
    def __init__(
        self,
        *,
        key: NodeKey,
        network_id: bytes,
        record: NodeRecord,
        timers: Timers | None = None,
        rng: random.Random | None = None,
        incarnation: int = 0,
        sync_interval: float = 30.0,
        verified: VerifiedUpdates | None = None,
    ) -> None:
        self.key = key
        self.network_id = network_id
        self.record = record
        self.timers = timers or Timers()
        self.rng = rng or random.Random()  # noqa: S311 - peer choice, not secrecy
        self.membership = Membership(
            self_id=key.node_id, incarnation=incarnation, timers=self.timers
        )
        self.broadcasts = Broadcasts()
        self.health = 0
        self.counters = Counters()
        self.sync_interval = sync_interval
        self._alive = self._sign(Status.ALIVE, key.node_id, incarnation)
        self._probe: _Probe | None = None
        self._probe_order: list[bytes] = []
        self._relays: dict[int, _Relay] = {}
        self._seq = self.rng.randrange(_SEQ_MODULUS)
        self._schedule = _Schedule()
        self._verified = verified or VerifiedUpdates(network_id=network_id)
        self._changed: set[bytes] = set()
        # Nodes an operator banned: nothing from or about them is heard, nothing sent to them.
        self.banned: frozenset[bytes] = frozenset()
        self.round_trips: dict[bytes, RoundTrip] = {}
        self._queue_self()

    @property
    def node_id(self) -> bytes:
        return self.key.node_id

    @property
    def refused_updates(self) -> int:
        """Claims and records that failed verification (forged, wrong network, malformed)."""
        return self._verified.refused

    # Inputs.

    def join(self, seeds: list[tuple[str, int]], *, now: float) -> list[Outbound]:
        """Push-pull with every seed address (their node ids are learnt in the handshake)."""
        sync = self._sync_message()
        return [Outbound(b"", host, port, sync) for host, port in seeds]

    def update_record(self, record: NodeRecord) -> None:
        """Announce a new record of this node (a higher seq: new URL, books, lengths)."""
        self.record = record
        self.broadcasts.add(self.node_id + b"r", Update.of(record))

    def leave(self) -> Claim:
        """Say goodbye: a self-signed LEFT the caller should gossip a few rounds before exit."""
        claim = self._sign(Status.LEFT, self.node_id, self.membership.incarnation)
        self.broadcasts.add(self.node_id, Update.of(claim))
        return claim

    def farewell(self, *, now: float) -> list[Outbound]:
        """LEFT, sent at once to twice the fanout, for a node about to exit that cannot wait
        for the gossip rounds that would carry it."""
        goodbye = Gossip((Update.of(self.leave()),))
        members = self._random_members(2 * self.timers.gossip_fanout, exclude=set(), now=now)
        return [o for member in members for o in self._to(member, goodbye)]

    def ban(self, node_ids: frozenset[bytes]) -> None:
        """Hear nothing more from or about NODE_IDS, and forget what was heard: an operator's
        decision that outranks anything the network says about them."""
        for node_id in node_ids - self.banned:
            self.membership.forget(node_id)
            self.round_trips.pop(node_id, None)
        self.banned = frozenset(node_ids)

    def take_changes(self) -> set[bytes]:
        """The members whose record or state changed since the last call."""
        changed, self._changed = self._changed, set()
        return changed

    def receive(self, sender: NodeRecord, message: Message, *, now: float) -> list[Outbound]:
        """A MESSAGE from SENDER, whose record the transport verified in its handshake."""
        if sender.node_id in self.banned:
            return []
        self._learn_record(sender)
        handler = _HANDLERS.get(type(message))
        if handler is None:
            return []
        return handler(self, sender, message, now)

    def tick(self, *, now: float) -> list[Outbound]:
        """Everything due by NOW: probe deadlines and periods, relay nacks, gossip, suspicion
        expiry and anti-entropy."""
        out = self._probe_deadlines(now)
        out += self._relay_nacks(now)
        if now >= self._schedule.probe:
            out += self._next_probe(now)
        if now >= self._schedule.gossip:
            out += self._gossip_round(now)
            self._schedule.gossip = now + self.timers.gossip_interval
        if now >= self._schedule.sync:
            out += self._sync_round()
            self._schedule.sync = now + self._sync_period()
        for event in self.membership.tick(now=now):
            if isinstance(event, Declare):
                self._declare(event, now)
        return out

    def next_wakeup(self) -> float:
        due = [self._schedule.probe, self._schedule.gossip, self._schedule.sync]
        probe = self._probe
        if probe is not None and not probe.acked and not probe.indirect:
            due.append(probe.timeout_at)
        due += [r.nack_at for r in self._relays.values() if not r.answered]
        suspicions = [m.suspicion.deadline for m in self.membership.suspected()]
        return min(due + suspicions)

    # Probing.

    def _next_probe(self, now: float) -> list[Outbound]:
        self._finish_probe(now)
        scale = self.health + 1
        self._schedule.probe = now + self.timers.probe_interval * scale
        target = self._next_target()
        if target is None:
            return []
        self._probe = _Probe(
            target.node_id,
            self._next_seq(),
            now,
            now + self.timers.probe_timeout * scale,
            self._schedule.probe,
        )
        self.counters.probes += 1
        # Lifeguard's buddy system: a ping to a suspect carries the suspicion, to refute at once.
        buddy = target.claim if target.status is Status.SUSPECT else None
        ping = Ping(self._probe.seq_no, target.node_id, self._piggyback(buddy))
        return self._to(target, ping)

    def _next_target(self) -> Member | None:
        while self._probe_order:
            member = self.membership.get(self._probe_order.pop())
            if member is not None and member.status in (Status.ALIVE, Status.SUSPECT):
                return member if member.record else None
        candidates = [
            m.node_id
            for m in self.membership.members(Status.ALIVE, Status.SUSPECT)
            if m.record is not None
        ]
        if not candidates:
            return None
        self.rng.shuffle(candidates)
        self._probe_order = candidates
        return self.membership.get(self._probe_order.pop())

    def _probe_deadlines(self, now: float) -> list[Outbound]:
        probe = self._probe
        if probe is None or probe.acked or probe.indirect or now < probe.timeout_at:
            return []
        probe.indirect = True
        target = self.membership.get(probe.target)
        if target is None or target.record is None:
            return []
        relays = self._random_members(self.timers.indirect_checks, exclude={probe.target})
        probe.nacks_expected = len(relays)
        self.counters.indirect_probes += 1
        request = PingReq(
            probe.seq_no, probe.target, target.record.gossip_host, target.record.gossip_port
        )
        return [o for relay in relays for o in self._to(relay, request)]

    def _finish_probe(self, now: float) -> None:
        probe, self._probe = self._probe, None
        if probe is None:
            return
        if probe.acked:
            self._adjust_health(-1)
            return
        self.counters.probes_failed += 1
        # Lifeguard: relays that did not even nack point at this node being the slow one.
        self._adjust_health(1 if probe.nacks < probe.nacks_expected else 0)
        for event in self.membership.suspect(probe.target):
            if isinstance(event, Declare):
                self.counters.suspicions += 1
                self._declare(event, now)

    def _relay_nacks(self, now: float) -> list[Outbound]:
        out: list[Outbound] = []
        for seq_no, relay in list(self._relays.items()):
            if now >= relay.nack_at:
                del self._relays[seq_no]
                if not relay.answered:
                    out += self._to_id(relay.requester, Nack(relay.requester_seq))
        return out

    def _adjust_health(self, delta: int) -> None:
        self.health = min(max(self.health + delta, 0), MAX_HEALTH - 1)

    # Message handlers.

    def _on_ping(self, sender: NodeRecord, ping: Ping, now: float) -> list[Outbound]:
        self._take_updates(ping.piggyback, now)
        if ping.target != self.node_id:
            return []
        return self._to_record(sender, Ack(ping.seq_no, self._piggyback()))

    def _on_ack(self, sender: NodeRecord, ack: Ack, now: float) -> list[Outbound]:
        self._take_updates(ack.piggyback, now)
        probe = self._probe
        if probe is not None and ack.seq_no == probe.seq_no and not probe.acked:
            probe.acked = True
            if not probe.indirect:
                self.round_trips[probe.target] = RoundTrip(now - probe.started, now)
            return []
        relay = self._relays.get(ack.seq_no)
        if relay is not None and not relay.answered:
            relay.answered = True
            return self._to_id(relay.requester, Ack(relay.requester_seq, ()))
        return []

    def _on_ping_req(self, sender: NodeRecord, request: PingReq, now: float) -> list[Outbound]:
        seq_no = self._next_seq()
        nack_at = now + self.timers.probe_timeout * NACK_AT
        self._relays[seq_no] = _Relay(sender.node_id, request.seq_no, nack_at)
        ping = Ping(seq_no, request.target, ())
        return [Outbound(request.target, request.host, request.port, ping)]

    def _on_nack(self, sender: NodeRecord, nack: Nack, now: float) -> list[Outbound]:
        if self._probe is not None and nack.seq_no == self._probe.seq_no:
            self._probe.nacks += 1
        return []

    def _on_gossip(self, sender: NodeRecord, gossip: Gossip, now: float) -> list[Outbound]:
        self._take_updates(gossip.updates, now)
        return []

    def _on_sync(self, sender: NodeRecord, sync: Sync, now: float) -> list[Outbound]:
        mine = self._digest()
        if sync.digest_hash == Sync.of(mine, with_digest=False).digest_hash:
            return []
        if sync.digest is None:
            return self._to_record(sender, self._sync_message())
        theirs = {e.node_id: (e.seq, e.incarnation) for e in sync.digest}
        ours = {node_id: (seq, inc) for node_id, seq, inc in mine}
        behind = tuple(n for n, known in theirs.items() if _ahead(known, ours.get(n)))
        deltas = self._updates_about(n for n, known in ours.items() if _ahead(known, theirs.get(n)))
        return self._to_record(sender, SyncAck(behind[:MAX_SYNC_DELTAS], deltas))

    def _on_sync_ack(self, sender: NodeRecord, ack: SyncAck, now: float) -> list[Outbound]:
        self._take_updates(ack.deltas, now)
        if not ack.want:
            return []
        return self._to_record(sender, SyncDeltas(self._updates_about(ack.want)))

    def _on_sync_deltas(self, sender: NodeRecord, deltas: SyncDeltas, now: float) -> list[Outbound]:
        self._take_updates(deltas.deltas, now)
        return []

    # Updates.

    def _take_updates(self, updates: tuple[Update, ...], now: float) -> None:
        for update in updates:
            item = self._verified.open(update)
            if item is None or self._about_banned(item):
                continue
            learnt = (
                self._learn_record(item)
                if isinstance(item, NodeRecord)
                else self._learn_claim(item, now)
            )
            if not learnt:
                self.counters.stale_updates += 1

    def _about_banned(self, item: Claim | NodeRecord) -> bool:
        if isinstance(item, NodeRecord):
            return item.node_id in self.banned
        return item.subject in self.banned or item.accuser in self.banned

    def _learn_record(self, record: NodeRecord) -> bool:
        if not self.membership.apply_record(record):
            return False
        self._changed.add(record.node_id)
        self.broadcasts.add(record.node_id + b"r", Update.of(record))
        return True

    def _learn_claim(self, claim: Claim, now: float) -> bool:
        before = self.membership.get(claim.subject)
        known = before.claim if before is not None else None
        events = self.membership.apply_claim(claim, now=now)
        for event in events:
            if isinstance(event, Refute):
                self.counters.refutes += 1
                self._adjust_health(1)
                self._alive = self._sign(Status.ALIVE, self.node_id, event.incarnation)
                self._queue_self()
            elif isinstance(event, Confirmed):
                # Lifeguard: pass confirmations on, so the suspicion shortens everywhere.
                self.broadcasts.add(claim.subject, Update.of(claim))
        member = self.membership.get(claim.subject)
        if member is not None and member.claim is claim and known is not claim:
            self._changed.add(claim.subject)
            self.broadcasts.add(claim.subject, Update.of(claim))
        return bool(events)

    def _declare(self, declare: Declare, now: float) -> None:
        claim = self._sign(declare.status, declare.node_id, declare.incarnation)
        self._learn_claim(claim, now)

    def _sign(self, status: Status, subject: bytes, incarnation: int) -> Claim:
        return sign_claim(
            self.key,
            network_id=self.network_id,
            status=status,
            subject=subject,
            incarnation=incarnation,
        )

    def _queue_self(self) -> None:
        self.broadcasts.add(self.node_id, Update.of(self._alive))
        self.broadcasts.add(self.node_id + b"r", Update.of(self.record))

    def _piggyback(self, first: Claim | None = None) -> tuple[Update, ...]:
        """Queued updates for one message, after FIRST if given (sent whatever the queue)."""
        lead = () if first is None else (Update.of(first),)
        taken = self.broadcasts.take(
            budget=PIGGYBACK_BUDGET - sum(len(u.raw) + UPDATE_OVERHEAD for u in lead),
            overhead=UPDATE_OVERHEAD,
            max_updates=MAX_UPDATES - len(lead),
            retransmit_limit=self.timers.retransmit_limit(len(self.membership) + 1),
        )
        return (*lead, *(u for u in taken if u not in lead))

    # Gossip and anti-entropy.

    def _gossip_round(self, now: float) -> list[Outbound]:
        if not len(self.broadcasts):
            return []
        targets = self._random_members(self.timers.gossip_fanout, exclude=set(), now=now)
        out: list[Outbound] = []
        for target in targets:
            updates = self._piggyback()
            if updates:
                out += self._to(target, Gossip(updates))
        return out

    def _sync_round(self) -> list[Outbound]:
        partners = self._random_members(1, exclude=set())
        # The digest's hash first (gossip.md §7.3): a partner whose view differs answers with
        # its full digest, one that agrees stays silent, so agreeing costs 39 bytes, not 48 per
        # member.
        sync = Sync.of(self._digest(), with_digest=False)
        return [o for p in partners for o in self._to(p, sync)]

    def _sync_period(self) -> float:
        # memberlist scales push-pull down above 32 members, keeping its traffic flat.
        members = len(self.membership) + 1
        return self.sync_interval * (max(math.ceil(math.log2(members) - 5), 0) + 1)

    def _sync_message(self) -> Sync:
        return Sync.of(self._digest(), with_digest=True)

    def _digest(self) -> list[tuple[bytes, int, int]]:
        entries = [e for e in self.membership.digest() if self.membership.record(e[0])]
        return [*entries, (self.node_id, self.record.seq, self.membership.incarnation)]

    def _updates_about(self, node_ids) -> tuple[Update, ...]:
        updates: list[Update] = []
        for node_id in node_ids:
            if node_id == self.node_id:
                updates += [Update.of(self.record), Update.of(self._alive)]
                continue
            record = self.membership.record(node_id)
            member = self.membership.get(node_id)
            if record is not None and member is not None and member.claim is not None:
                # The member's own announcement first: without it the receiver may not believe
                # an accusation at that incarnation.
                claims = dict.fromkeys(c for c in (member.announced, member.claim) if c)
                updates += [Update.of(record), *map(Update.of, claims)]
            if len(updates) >= MAX_SYNC_DELTAS:
                break
        return tuple(updates[:MAX_SYNC_DELTAS])

    # Addressing.

    def _random_members(
        self, count: int, *, exclude: set[bytes], now: float | None = None
    ) -> list[Member]:
        def reachable(m: Member) -> bool:
            if m.record is None or m.node_id in exclude:
                return False
            if m.status in (Status.ALIVE, Status.SUSPECT):
                return True
            recently_dead = now is not None and now - m.since < GOSSIP_TO_THE_DEAD_SECONDS
            return m.status is Status.DEAD and recently_dead

        return self.membership.sample(self.rng, count, reachable)

    def _to(self, member: Member, message: Message) -> list[Outbound]:
        record = member.record
        if record is None:
            return []
        return [Outbound(member.node_id, record.gossip_host, record.gossip_port, message)]

    def _to_id(self, node_id: bytes, message: Message) -> list[Outbound]:
        record = self.membership.record(node_id)
        return [] if record is None else self._to_record(record, message)

    def _to_record(self, record: NodeRecord, message: Message) -> list[Outbound]:
        return [Outbound(record.node_id, record.gossip_host, record.gossip_port, message)]

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % _SEQ_MODULUS
        return self._seq


def _ahead(known: tuple[int, int], other: tuple[int, int] | None) -> bool:
    """Whether (seq, incarnation) KNOWN has something OTHER lacks."""
    return other is None or known[0] > other[0] or known[1] > other[1]


_HANDLERS = {
    Ping: GossipNode._on_ping,
    Ack: GossipNode._on_ack,
    PingReq: GossipNode._on_ping_req,
    Nack: GossipNode._on_nack,
    Gossip: GossipNode._on_gossip,
    Sync: GossipNode._on_sync,
    SyncAck: GossipNode._on_sync_ack,
    SyncDeltas: GossipNode._on_sync_deltas,
}
