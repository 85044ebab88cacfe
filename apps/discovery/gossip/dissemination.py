"""Piggy-backed dissemination (SWIM §4.1, memberlist's TransmitLimitedQueue): every update rides
on outgoing messages a limited number of times, the least-sent first, so news spreads
epidemically without a flood; a newer update about the same subject replaces the older one."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from .wire import Update


@dataclass(order=True)
class _Queued:
    transmits: int
    # Among equally-sent updates the newest goes first: it is the one least known.
    order: int
    subject: bytes = field(compare=False)
    update: Update = field(compare=False)


def _rank(queued: _Queued) -> tuple[int, int]:
    # The dataclass order as a key: sorting by key is several times cheaper than __lt__.
    return queued.transmits, queued.order


class Broadcasts:
    """Updates waiting to be piggy-backed, each keyed by what it is about (a claim's subject, a
    record's node) so that only the latest update about a subject travels."""

    def __init__(self) -> None:
        self._queued: dict[bytes, _Queued] = {}
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._queued)

    def add(self, subject: bytes, update: Update) -> None:
        self._queued[subject] = _Queued(0, -next(self._counter), subject, update)

    def take(
        self, *, budget: int, overhead: int, max_updates: int, retransmit_limit: int
    ) -> list[Update]:
        """Up to BUDGET bytes of updates (each costing OVERHEAD bytes besides itself; at most
        MAX_UPDATES), least-sent first. Each taken update counts one transmit and is dropped
        once sent RETRANSMIT_LIMIT times (Timers.retransmit_limit of the member count)."""
        taken: list[Update] = []
        for queued in sorted(self._queued.values(), key=_rank):
            if len(taken) == max_updates:
                break
            cost = len(queued.update.raw) + overhead
            if cost > budget:
                continue
            budget -= cost
            taken.append(queued.update)
            queued.transmits += 1
            if queued.transmits >= retransmit_limit:
                del self._queued[queued.subject]
        return taken
