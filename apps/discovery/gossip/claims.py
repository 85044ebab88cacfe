"""What nodes say about themselves and each other, once verified: the shared vocabulary of the
wire codec (records.py, wire.py) and the membership rules (membership.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

NODE_ID_BYTES = 32
NETWORK_ID_BYTES = 32


class Status(enum.IntEnum):
    """A member's state. At one incarnation a claim overrides the ones below it in this order
    (SWIM: dead > suspect > alive); LEFT is the member's own goodbye."""

    ALIVE = 0
    SUSPECT = 1
    DEAD = 2
    LEFT = 3


class Role(enum.StrEnum):
    ORIGINATOR = "originator"
    INVESTOR = "investor"


# Appended to the kind of a book a node serves but does not write (a copy of a followed book):
# only a writer's own announcement names a book's publisher or makes investors follow it.
COPY_SUFFIX = "@copy"


@dataclass(frozen=True)
class BookAnnouncement:
    """A public book a node serves: its Hypercore key, which book it is, and its length."""

    key: bytes
    kind: str
    length: int


@dataclass(frozen=True)
class NodeRecord:
    """A node's self-signed description. `raw` is the signed encoding, relayed unchanged."""

    network_id: bytes
    node_id: bytes
    public_key: bytes
    seq: int
    role: Role
    name: str
    url: str
    gossip_host: str
    gossip_port: int
    books: tuple[BookAnnouncement, ...]
    raw: bytes


@dataclass(frozen=True)
class Claim:
    """A signed statement about SUBJECT at INCARNATION. Alive and left are signed by the subject
    itself (only a node raises its own incarnation); suspect and dead by their accuser."""

    status: Status
    subject: bytes
    incarnation: int
    accuser: bytes
    raw: bytes

    @property
    def self_signed(self) -> bool:
        return self.accuser == self.subject
