"""SWIM membership with the Lifeguard refinements, as pure state: verified claims and records
go in, the member table and what the agent must do (sign, gossip) come out. Time is a number the
caller passes, so the simulator and the real agent run the same code.

Merge rule: a member's state is the maximum of every claim heard about it, ordered by
(incarnation, status) with ALIVE < SUSPECT < DEAD < LEFT. A maximum does not depend on the order
claims arrive in, so every node that hears the same claims ends in the same state; only the
member itself raises its incarnation (alive and left are self-signed, records.py), which is how
it refutes a suspicion and how a dead node comes back.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .claims import Claim, NodeRecord, Status

TOMBSTONES = (Status.DEAD, Status.LEFT)


@dataclass(frozen=True)
class Timers:
    """Defaults from memberlist's LAN profile (reference/gossip.md §7.4), in seconds."""

    probe_interval: float = 1.0
    probe_timeout: float = 0.5
    indirect_checks: int = 3
    gossip_interval: float = 0.2
    gossip_fanout: int = 3
    retransmit_mult: int = 4
    suspicion_mult: int = 4
    suspicion_max_mult: int = 6
    confirmations: int = 2
    tombstone_seconds: float = 24 * 3600.0

    def retransmit_limit(self, members: int) -> int:
        return self.retransmit_mult * math.ceil(math.log10(members + 1))

    def suspicion_min(self, members: int) -> float:
        return self.suspicion_mult * max(1.0, math.log10(max(members, 1))) * self.probe_interval

    def suspicion_max(self, members: int) -> float:
        return self.suspicion_max_mult * self.suspicion_min(members)


@dataclass
class Suspicion:
    """Lifeguard: the timeout starts at its maximum and falls toward the minimum, on a log
    scale, as independent accusers confirm it; the first accuser does not count."""

    started: float
    min_timeout: float
    max_timeout: float
    needed: int
    accusers: set[bytes] = field(default_factory=set)

    def confirm(self, accuser: bytes) -> bool:
        """Count ACCUSER once, until NEEDED confirmations are in (more cannot shorten the
        timeout, so they are not passed on either: memberlist's suspicion.Confirm); return
        whether it counted."""
        if accuser in self.accusers or self.confirmed:
            return False
        self.accusers.add(accuser)
        return True

    @property
    def confirmed(self) -> bool:
        """Whether the first accuser and NEEDED independent confirmations are in."""
        return len(self.accusers) > self.needed

    @property
    def deadline(self) -> float:
        confirmations = max(len(self.accusers) - 1, 0)
        if self.needed < 1:
            return self.started + self.min_timeout
        fraction = math.log(confirmations + 1) / math.log(self.needed + 1)
        timeout = self.max_timeout - (self.max_timeout - self.min_timeout) * fraction
        return self.started + max(self.min_timeout, timeout)


@dataclass(slots=True)  # slots: a simulated network holds millions of them
class Member:
    node_id: bytes
    status: Status
    incarnation: int
    since: float
    record: NodeRecord | None = None
    suspicion: Suspicion | None = None
    # The claim that set the current state: what anti-entropy hands to a node that lacks it.
    claim: Claim | None = None
    # The latest claim the member signed itself (ALIVE or LEFT). Accusations count only at an
    # incarnation it announced: otherwise anyone could accuse it at the highest incarnation
    # there is, which no refutation could ever outbid.
    announced: Claim | None = None

    @property
    def rank(self) -> tuple[int, int]:
        return self.incarnation, int(self.status)


@dataclass(frozen=True)
class StatusChanged:
    node_id: bytes
    old: Status | None
    new: Status
    incarnation: int


@dataclass(frozen=True)
class Refute:
    """Someone suspects this node (or says it died): sign and gossip ALIVE at INCARNATION."""

    incarnation: int


@dataclass(frozen=True)
class Confirmed:
    """A new, independent accuser confirmed the suspicion of NODE_ID: worth passing on."""

    node_id: bytes
    accuser: bytes


@dataclass(frozen=True)
class Declare:
    """This node's own verdict about NODE_ID: sign and gossip a STATUS claim at INCARNATION."""

    node_id: bytes
    status: Status
    incarnation: int


Event = StatusChanged | Refute | Confirmed | Declare


class Membership:
    """The member table of one node, itself excluded."""

    def __init__(self, *, self_id: bytes, incarnation: int = 0, timers: Timers | None = None):
        self.self_id = self_id
        self.incarnation = incarnation
        self.timers = timers or Timers()
        self._members: dict[bytes, Member] = {}
        self._records: dict[bytes, NodeRecord] = {}
        # Members that `tick` must look at (a running suspicion or a tombstone), and every
        # member's id in a list for O(1) random picks: neither costs a scan of the table per
        # tick or per gossip round.
        self._watched: dict[bytes, Member] = {}
        self._ids: list[bytes] = []

    def __len__(self) -> int:
        return len(self._members)

    def get(self, node_id: bytes) -> Member | None:
        return self._members.get(node_id)

    def members(self, *statuses: Status) -> list[Member]:
        wanted = set(statuses) or set(Status)
        return [m for m in self._members.values() if m.status in wanted]

    def suspected(self) -> list[Member]:
        """The members under a running suspicion."""
        return [m for m in self._watched.values() if m.suspicion is not None]

    def sample(
        self, rng: random.Random, count: int, accept: Callable[[Member], bool]
    ) -> list[Member]:
        """Up to COUNT distinct members for which ACCEPT holds, uniformly at random among them.
        Draws from the whole table and rejects the unacceptable, so it costs O(COUNT) while most
        members qualify; if draws keep failing, it scans the table instead."""
        if count < 1:
            return []
        ids, picked = self._ids, {}
        if len(ids) > 4 * count:
            for _ in range(4 * count + 16):
                member = self._members[ids[rng.randrange(len(ids))]]
                if member.node_id not in picked and accept(member):
                    picked[member.node_id] = member
                    if len(picked) == count:
                        return list(picked.values())
        candidates = [m for m in self._members.values() if accept(m)]
        return rng.sample(candidates, min(count, len(candidates)))

    def apply_record(self, record: NodeRecord) -> bool:
        """Keep RECORD if it is newer than the one held (higher seq); return whether it was."""
        if record.node_id == self.self_id:
            return False
        held = self._records.get(record.node_id)
        if held is not None and held.seq >= record.seq:
            return False
        self._records[record.node_id] = record
        member = self._members.get(record.node_id)
        if member is not None:
            member.record = record
        return True

    def forget(self, node_id: bytes) -> None:
        """Drop NODE_ID and its record as if never heard of (a ban)."""
        if node_id in self._members:
            self._forget(node_id)
        self._records.pop(node_id, None)

    def record(self, node_id: bytes) -> NodeRecord | None:
        return self._records.get(node_id)

    def apply_claim(self, claim: Claim, *, now: float) -> list[Event]:
        if claim.subject == self.self_id:
            return self._about_me(claim)
        member = self._members.get(claim.subject)
        if not claim.self_signed and not _announced(member, claim.incarnation):
            return []
        if member is None:
            return self._admit(claim, now)
        if (claim.incarnation, int(claim.status)) > member.rank:
            return self._move(member, claim, now)
        # Another accuser of the same suspicion: a confirmation (only suspects carry one).
        same = (claim.status, claim.incarnation) == (Status.SUSPECT, member.incarnation)
        if same and member.suspicion is not None and member.suspicion.confirm(claim.accuser):
            return [Confirmed(claim.subject, claim.accuser)]
        return []

    def suspect(self, node_id: bytes) -> list[Event]:
        """This node's probe of NODE_ID failed: the suspicion to sign (and apply_claim). Of a
        member already suspected by others it is an independent confirmation (Lifeguard;
        memberlist's suspectNode confirms too): without it, every node that hears of a suspicion
        before its own probe fails would wait out the maximum timeout."""
        member = self._members.get(node_id)
        if member is None:
            return []
        if member.status is Status.ALIVE:
            return [Declare(node_id, Status.SUSPECT, member.incarnation)]
        suspicion = member.suspicion
        if (
            suspicion is not None
            and not suspicion.confirmed
            and self.self_id not in suspicion.accusers
        ):
            return [Declare(node_id, Status.SUSPECT, member.incarnation)]
        return []

    def tick(self, *, now: float) -> list[Event]:
        """The deaths to sign (and apply_claim) for expired suspicions; forget old tombstones."""
        events: list[Event] = []
        for member in list(self._watched.values()):
            if member.suspicion is not None and now >= member.suspicion.deadline:
                events.append(Declare(member.node_id, Status.DEAD, member.incarnation))
            elif member.status in TOMBSTONES and now - member.since > self.timers.tombstone_seconds:
                self._forget(member.node_id)
        return events

    def digest(self) -> list[tuple[bytes, int, int]]:
        """(node id, record seq, incarnation) of every member, for anti-entropy."""
        return sorted(
            (m.node_id, m.record.seq if m.record else 0, m.incarnation)
            for m in self._members.values()
        )

    def _about_me(self, claim: Claim) -> list[Event]:
        # Only the current incarnation is refuted: an older one is stale, a higher one was never
        # announced (a forgery, or a replay from before a restart the network has forgotten).
        if claim.status in (Status.SUSPECT, Status.DEAD) and claim.incarnation == self.incarnation:
            self.incarnation = claim.incarnation + 1
            return [Refute(self.incarnation)]
        return []

    def _admit(self, claim: Claim, now: float) -> list[Event]:
        member = Member(claim.subject, claim.status, claim.incarnation, now)
        member.record = self._records.get(claim.subject)
        self._set(member, claim, now)
        self._members[claim.subject] = member
        self._ids.append(claim.subject)
        return [StatusChanged(claim.subject, None, claim.status, claim.incarnation)]

    def _move(self, member: Member, claim: Claim, now: float) -> list[Event]:
        previous = member.status
        self._set(member, claim, now)
        if previous == claim.status:
            return []
        return [StatusChanged(member.node_id, previous, claim.status, claim.incarnation)]

    def _set(self, member: Member, claim: Claim, now: float) -> None:
        member.status, member.incarnation, member.since = claim.status, claim.incarnation, now
        member.claim = claim
        if claim.self_signed:
            member.announced = claim
        suspected = claim.status is Status.SUSPECT
        member.suspicion = self._suspicion(now, claim.accuser) if suspected else None
        if suspected or claim.status in TOMBSTONES:
            self._watched[member.node_id] = member
        else:
            self._watched.pop(member.node_id, None)

    def _forget(self, node_id: bytes) -> None:
        del self._members[node_id]
        self._watched.pop(node_id, None)
        self._ids.remove(node_id)  # O(n), once per tombstone after a day

    def _suspicion(self, now: float, accuser: bytes) -> Suspicion:
        size = len(self._members) + 1
        needed = min(self.timers.confirmations, max(size - 2, 0))
        suspicion = Suspicion(
            now, self.timers.suspicion_min(size), self.timers.suspicion_max(size), needed
        )
        suspicion.confirm(accuser)
        return suspicion


def _announced(member: Member | None, incarnation: int) -> bool:
    """Whether MEMBER itself announced INCARNATION (or a later one)."""
    return (
        member is not None
        and member.announced is not None
        and (incarnation <= member.announced.incarnation)
    )
