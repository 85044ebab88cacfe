"""Signed node records for the stories of the discovery tests."""

from __future__ import annotations

from collections.abc import Iterable

from apps.discovery.gossip.claims import BookAnnouncement, NodeRecord, Role
from apps.discovery.gossip.records import NodeKey, sign_record


def node_key(name: str) -> NodeKey:
    """The same key for the same name in every test."""
    return NodeKey.from_seed(name.encode()[:32].ljust(32, b"\0"))


def signed_record(
    key: NodeKey,
    *,
    network_id: bytes,
    name: str,
    role: Role = Role.ORIGINATOR,
    seq: int = 1,
    host: str = "127.0.0.1",
    port: int = 7946,
    books: Iterable[BookAnnouncement] = (),
) -> NodeRecord:
    return sign_record(
        key,
        network_id=network_id,
        seq=seq,
        role=role,
        name=name,
        url=f"https://{name.lower().replace(' ', '-').replace(chr(39), '')}.example",
        gossip_host=host,
        gossip_port=port,
        books=books,
    )
