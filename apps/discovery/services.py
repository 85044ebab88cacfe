"""Writes of discovery's durable peer table, in batches from the agent's live view.

Both writes are upserts that cannot go backwards: a record replaces the stored one only with a
higher seq, a state only with a higher (incarnation, status), so a late or replayed batch, or two
writers racing, never undo newer knowledge (reference/gossip.md §7.1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction

from .gossip.claims import NodeRecord, Status

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


def _books_json(record: NodeRecord) -> str:
    return json.dumps(
        [{"key": b.key.hex(), "kind": b.kind, "length": b.length} for b in record.books]
    )
