"""Frames and message bodies of the TCP discovery protocol (gossip.md §7.3).

A frame is `u32 length | u8 type | u8 flags | body`, big endian, LENGTH counting type, flags and
body. Its size is checked from the header, before the body is read. Message bodies are frozen
dataclasses whose constructors hold every rule a body obeys, so a message that encodes is one the
peer's strict decoder accepts. Signed records and claims travel as their raw bytes: membership
opens them (records.py). The byte layouts are in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar, NamedTuple

from .claims import NETWORK_ID_BYTES, NODE_ID_BYTES, Claim, NodeRecord
from .codec import ByteReader, prefixed, signature_is_valid, uint
from .records import (
    CLAIM_BYTES,
    MAX_RECORD_BYTES,
    SIGNATURE_BYTES,
    U64_MAX,
    NodeKey,
    is_host,
    open_claim,
    open_record,
)

WIRE_VERSION = 1
NONCE_BYTES = 32
DIGEST_HASH_BYTES = 32
HELLO_ACK_DOMAIN = b"growr-hello-ack-v1"
HELLO_FIN_DOMAIN = b"growr-hello-fin-v1"

HEADER_BYTES = 6
TYPE_AND_FLAGS_BYTES = 2
MAX_GOSSIP_FRAME_LENGTH = 64 * 1024
MAX_SYNC_FRAME_LENGTH = 1024 * 1024

MAX_UPDATES = 64  # per GOSSIP, and piggybacked per PING or ACK (gossip.md §7.5)
MAX_SYNC_DELTAS = 4096
MAX_DIGEST_ENTRIES = 16384
MAX_PEERS = 16
MAX_ERROR_MESSAGE_BYTES = 200
U32_MAX = 2**32 - 1


class WireError(ValueError):
    """A frame or message body that breaks the protocol; the message says how."""


class FrameTooLarge(WireError):
    """A header announced more bytes than its frame type allows (nothing more was read)."""


class UnexpectedFrame(WireError):
    """A header announced a frame type the reader did not expect here (its body was not read)."""


class ConnectionClosed(WireError):
    """The peer closed the connection between frames: an orderly end, not a protocol error."""


class FrameType(enum.IntEnum):
    HELLO = 1
    HELLO_ACK = 2
    PING = 3
    ACK = 4
    PING_REQ = 5
    NACK = 6
    GOSSIP = 7
    SYNC = 8
    SYNC_ACK = 9
    SYNC_DELTAS = 10
    PEERS_REQ = 11
    PEERS = 12
    ERR = 13
    HELLO_FIN = 14


_SYNC_FRAME_TYPES = frozenset({FrameType.SYNC, FrameType.SYNC_ACK, FrameType.SYNC_DELTAS})


def max_frame_length(frame_type: FrameType) -> int:
    """The largest LENGTH (type + flags + body) a frame of FRAME_TYPE may announce."""
    if frame_type in _SYNC_FRAME_TYPES:
        return MAX_SYNC_FRAME_LENGTH
    return MAX_GOSSIP_FRAME_LENGTH


@dataclass(frozen=True)
class Frame:
    """One frame. Its flags byte is reserved: 0 in wire version 1."""

    frame_type: FrameType
    body: bytes


def encode_frame(frame: Frame) -> bytes:
    length = TYPE_AND_FLAGS_BYTES + len(frame.body)
    if length > max_frame_length(frame.frame_type):
        raise WireError(
            f"a {frame.frame_type.name} frame of length {length} is over its limit of "
            f"{max_frame_length(frame.frame_type)}"
        )
    return uint(length, 4) + uint(frame.frame_type, 1) + uint(0, 1) + frame.body


async def read_frame(
    reader: asyncio.StreamReader,
    *,
    timeout: float,
    expect: Collection[FrameType] | None = None,
) -> Frame:
    """The next frame from READER, within TIMEOUT seconds for the whole frame. The header is
    checked before the body is read, so an announced size over the limit, or a type other than
    EXPECT (during a handshake, say), costs nothing."""
    header = b""
    try:
        async with asyncio.timeout(timeout):
            header = await reader.readexactly(HEADER_BYTES)
            frame_type, body_size = _parse_header(header)
            if expect is not None and frame_type not in expect:
                raise UnexpectedFrame(f"a {frame_type.name} frame where it does not belong")
            return Frame(frame_type, await reader.readexactly(body_size))
    except TimeoutError as exc:
        raise WireError(f"no complete frame within the {timeout:g} s read timeout") from exc
    except asyncio.IncompleteReadError as exc:
        if not header and not exc.partial:
            raise ConnectionClosed("the peer closed the connection") from exc
        raise WireError("the peer closed the connection in the middle of a frame") from exc


def _parse_header(header: bytes) -> tuple[FrameType, int]:
    """The frame type and body size HEADER announces, if they are acceptable."""
    length, type_code, flags = int.from_bytes(header[:4], "big"), header[4], header[5]
    try:
        frame_type = FrameType(type_code)
    except ValueError:
        raise WireError(f"unknown frame type {type_code}") from None
    if length < TYPE_AND_FLAGS_BYTES:
        raise WireError(f"frame length {length} is shorter than its type and flags")
    if length > max_frame_length(frame_type):
        raise FrameTooLarge(
            f"a {frame_type.name} frame announces length {length}, over its limit of "
            f"{max_frame_length(frame_type)}"
        )
    if flags:
        raise WireError(f"frame flags {flags:#04x} are reserved and must be 0")
    return frame_type, length - TYPE_AND_FLAGS_BYTES


# Parts of several messages.


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_BYTES)


def _reader(body: bytes, what: str) -> ByteReader:
    return ByteReader(bytes(body), what=f"{what} body refused", error=WireError)


def _check_size(value: bytes, size: int, what: str) -> None:
    if len(value) != size:
        raise WireError(f"{what} is {size} bytes, got {len(value)}")


def _check_uint(value: int, maximum: int, what: str) -> None:
    if not 0 <= value <= maximum:
        raise WireError(f"{what} {value} is not between 0 and {maximum}")


def _check_count(items: Sequence[object], maximum: int, what: str) -> None:
    if len(items) > maximum:
        raise WireError(f"{len(items)} {what} is more than the {maximum} allowed")


def _check_record_size(raw: bytes) -> None:
    if not 1 <= len(raw) <= MAX_RECORD_BYTES:
        raise WireError(f"a node record is 1 to {MAX_RECORD_BYTES} bytes, got {len(raw)}")


class UpdateKind(enum.IntEnum):
    CLAIM = 1
    RECORD = 2


@dataclass(frozen=True)
class Update:
    """A signed claim or node record, as its raw bytes. Only the size is checked here; `open`
    checks the signature."""

    kind: UpdateKind
    raw: bytes

    def __post_init__(self) -> None:
        if self.kind is UpdateKind.CLAIM:
            _check_size(self.raw, CLAIM_BYTES, "a claim")
        else:
            _check_record_size(self.raw)

    @classmethod
    def of(cls, item: Claim | NodeRecord) -> Update:
        kind = UpdateKind.CLAIM if isinstance(item, Claim) else UpdateKind.RECORD
        return cls(kind, item.raw)

    def open(self, *, network_id: bytes) -> Claim | NodeRecord:
        """The verified claim or record; raises RecordError if it cannot be trusted."""
        if self.kind is UpdateKind.CLAIM:
            return open_claim(self.raw, network_id=network_id)
        return open_record(self.raw, network_id=network_id)


def _updates_bytes(updates: Sequence[Update]) -> bytes:
    return uint(len(updates), 2) + b"".join(
        uint(update.kind, 1) + prefixed(update.raw, 2) for update in updates
    )


def _read_updates(reader: ByteReader) -> tuple[Update, ...]:
    return tuple(_read_update(reader) for _ in range(reader.uint(2, "update count")))


def _read_update(reader: ByteReader) -> Update:
    code = reader.uint(1, "update kind")
    try:
        kind = UpdateKind(code)
    except ValueError:
        raise WireError(f"unknown update kind {code}") from None
    return Update(kind, reader.prefixed(2, "update"))


# Messages, in frame type order. Each has its frame type, `encode()` and `decode(body)`.


@dataclass(frozen=True)
class Hello:
    """The first frame on a connection: who calls, on which network, with a fresh nonce for the
    answer to sign. Its layout must not change between wire versions."""

    FRAME_TYPE: ClassVar[FrameType] = FrameType.HELLO
    network_id: bytes
    wire_version: int
    nonce: bytes
    record: bytes

    def __post_init__(self) -> None:
        _check_size(self.network_id, NETWORK_ID_BYTES, "a network id")
        _check_uint(self.wire_version, 0xFFFF, "wire version")
        _check_size(self.nonce, NONCE_BYTES, "a nonce")
        _check_record_size(self.record)

    def encode(self) -> bytes:
        return self.network_id + uint(self.wire_version, 2) + self.nonce + prefixed(self.record, 2)

    @classmethod
    def decode(cls, body: bytes) -> Hello:
        reader = _reader(body, "HELLO")
        return reader.done(
            cls(
                network_id=reader.take(NETWORK_ID_BYTES, "network id"),
                wire_version=reader.uint(2, "wire version"),
                nonce=reader.take(NONCE_BYTES, "nonce"),
                record=reader.prefixed(2, "record"),
            )
        )


@dataclass(frozen=True)
class HelloAck:
    """The answer to HELLO: the answering node's record, its own nonce, and its signature over
    both nonces (`sign_hello_ack`), proving it holds the record's key."""

    FRAME_TYPE: ClassVar[FrameType] = FrameType.HELLO_ACK
    nonce: bytes
    signature: bytes
    record: bytes

    def __post_init__(self) -> None:
        _check_size(self.nonce, NONCE_BYTES, "a nonce")
        _check_size(self.signature, SIGNATURE_BYTES, "a signature")
        _check_record_size(self.record)

    def encode(self) -> bytes:
        return self.nonce + self.signature + prefixed(self.record, 2)

    @classmethod
    def decode(cls, body: bytes) -> HelloAck:
        reader = _reader(body, "HELLO_ACK")
        return reader.done(
            cls(
                nonce=reader.take(NONCE_BYTES, "nonce"),
                signature=reader.take(SIGNATURE_BYTES, "signature"),
                record=reader.prefixed(2, "record"),
            )
        )


def sign_hello_ack(
    key: NodeKey, *, network_id: bytes, their_nonce: bytes, own_nonce: bytes
) -> bytes:
    """The answering node's proof of key possession: its signature over the network, the
    caller's HELLO nonce (THEIR_NONCE) and its own HELLO_ACK nonce."""
    return key.sign(HELLO_ACK_DOMAIN, _hello_ack_content(network_id, their_nonce, own_nonce))


def verify_hello_ack(
    public_key: bytes, *, network_id: bytes, hello_nonce: bytes, ack: HelloAck
) -> None:
    """Raise WireError unless ACK's signature is PUBLIC_KEY's answer to the HELLO that carried
    HELLO_NONCE. PUBLIC_KEY comes from the opened record of the ACK."""
    content = _hello_ack_content(network_id, hello_nonce, ack.nonce)
    if not signature_is_valid(public_key, HELLO_ACK_DOMAIN, content, ack.signature):
        raise WireError("the HELLO_ACK signature does not verify: the peer did not prove its key")


def _hello_ack_content(network_id: bytes, hello_nonce: bytes, ack_nonce: bytes) -> bytes:
    _check_size(network_id, NETWORK_ID_BYTES, "a network id")
    _check_size(hello_nonce, NONCE_BYTES, "a nonce")
    _check_size(ack_nonce, NONCE_BYTES, "a nonce")
    return network_id + hello_nonce + ack_nonce


@dataclass(frozen=True)
class Ping:
    FRAME_TYPE: ClassVar[FrameType] = FrameType.PING
    seq_no: int
    target: bytes
    piggyback: tuple[Update, ...] = ()

    def __post_init__(self) -> None:
        _check_uint(self.seq_no, U32_MAX, "seq_no")
        _check_size(self.target, NODE_ID_BYTES, "a target node id")
        _check_count(self.piggyback, MAX_UPDATES, "piggybacked updates")

    def encode(self) -> bytes:
        return uint(self.seq_no, 4) + self.target + _updates_bytes(self.piggyback)

    @classmethod
    def decode(cls, body: bytes) -> Ping:
        reader = _reader(body, "PING")
        return reader.done(
            cls(
                seq_no=reader.uint(4, "seq_no"),
                target=reader.take(NODE_ID_BYTES, "target"),
                piggyback=_read_updates(reader),
            )
        )


@dataclass(frozen=True)
class Ack:
    FRAME_TYPE: ClassVar[FrameType] = FrameType.ACK
    seq_no: int
    piggyback: tuple[Update, ...] = ()

    def __post_init__(self) -> None:
        _check_uint(self.seq_no, U32_MAX, "seq_no")
        _check_count(self.piggyback, MAX_UPDATES, "piggybacked updates")

    def encode(self) -> bytes:
        return uint(self.seq_no, 4) + _updates_bytes(self.piggyback)

    @classmethod
    def decode(cls, body: bytes) -> Ack:
        reader = _reader(body, "ACK")
        return reader.done(cls(seq_no=reader.uint(4, "seq_no"), piggyback=_read_updates(reader)))


@dataclass(frozen=True)
class PingReq:
    """Ask the receiver to ping TARGET at HOST:PORT for us (SWIM's indirect probe)."""

    FRAME_TYPE: ClassVar[FrameType] = FrameType.PING_REQ
    seq_no: int
    target: bytes
    host: str
    port: int

    def __post_init__(self) -> None:
        _check_uint(self.seq_no, U32_MAX, "seq_no")
        _check_size(self.target, NODE_ID_BYTES, "a target node id")
        if not is_host(self.host):
            raise WireError(f"target host {self.host!r} is not a host name or IP address")
        if not 1 <= self.port <= 65535:
            raise WireError(f"target port {self.port} is not between 1 and 65535")

    def encode(self) -> bytes:
        return (
            uint(self.seq_no, 4)
            + self.target
            + uint(self.port, 2)
            + prefixed(self.host.encode("ascii"), 1)
        )

    @classmethod
    def decode(cls, body: bytes) -> PingReq:
        reader = _reader(body, "PING_REQ")
        return reader.done(
            cls(
                seq_no=reader.uint(4, "seq_no"),
                target=reader.take(NODE_ID_BYTES, "target"),
                port=reader.uint(2, "port"),
                host=reader.text(1, "host", encoding="ascii"),
            )
        )


@dataclass(frozen=True)
class Nack:
    """The relay of a PING_REQ has not heard from the target yet (Lifeguard)."""

    FRAME_TYPE: ClassVar[FrameType] = FrameType.NACK
    seq_no: int

    def __post_init__(self) -> None:
        _check_uint(self.seq_no, U32_MAX, "seq_no")

    def encode(self) -> bytes:
        return uint(self.seq_no, 4)

    @classmethod
    def decode(cls, body: bytes) -> Nack:
        reader = _reader(body, "NACK")
        return reader.done(cls(seq_no=reader.uint(4, "seq_no")))


@dataclass(frozen=True)
class Gossip:
    FRAME_TYPE: ClassVar[FrameType] = FrameType.GOSSIP
    updates: tuple[Update, ...]

    def __post_init__(self) -> None:
        _check_count(self.updates, MAX_UPDATES, "gossiped updates")

    def encode(self) -> bytes:
        return _updates_bytes(self.updates)

    @classmethod
    def decode(cls, body: bytes) -> Gossip:
        reader = _reader(body, "GOSSIP")
        return reader.done(cls(updates=_read_updates(reader)))


class DigestEntry(NamedTuple):
    """What a node knows of one member: its record seq and its incarnation."""

    node_id: bytes
    seq: int
    incarnation: int


def digest_hash(entries: Iterable[tuple[bytes, int, int]]) -> bytes:
    """SHA-256 over the sorted entries, each as node_id | u64 seq | u64 incarnation, so two nodes
    with the same view agree on it whatever their order."""
    encoded = sorted(_entry_bytes(DigestEntry(*entry)) for entry in entries)
    return hashlib.sha256(b"".join(encoded)).digest()


def _entry_bytes(entry: DigestEntry) -> bytes:
    _check_size(entry.node_id, NODE_ID_BYTES, "a digest node id")
    _check_uint(entry.seq, U64_MAX, "digest seq")
    _check_uint(entry.incarnation, U64_MAX, "digest incarnation")
    return entry.node_id + uint(entry.seq, 8) + uint(entry.incarnation, 8)


def _read_entry(reader: ByteReader) -> DigestEntry:
    return DigestEntry(
        node_id=reader.take(NODE_ID_BYTES, "digest node id"),
        seq=reader.uint(8, "digest seq"),
        incarnation=reader.uint(8, "digest incarnation"),
    )


@dataclass(frozen=True)
class Sync:
    """Anti-entropy, first step: the hash of the sender's digest and, when asked for or when the
    hashes differed, the digest itself, sorted by node id."""

    FRAME_TYPE: ClassVar[FrameType] = FrameType.SYNC
    digest_hash: bytes
    digest: tuple[DigestEntry, ...] | None = None

    def __post_init__(self) -> None:
        _check_size(self.digest_hash, DIGEST_HASH_BYTES, "a digest hash")
        if self.digest is None:
            return
        _check_count(self.digest, MAX_DIGEST_ENTRIES, "digest entries")
        node_ids = [entry.node_id for entry in self.digest]
        if any(a >= b for a, b in pairwise(node_ids)):
            raise WireError("digest entries must be sorted by node id, each node once")
        if digest_hash(self.digest) != self.digest_hash:
            raise WireError("the digest does not hash to the digest hash sent with it")

    @classmethod
    def of(cls, entries: Iterable[tuple[bytes, int, int]], *, with_digest: bool) -> Sync:
        digest = tuple(sorted(DigestEntry(*entry) for entry in entries))
        return cls(digest_hash(digest), digest if with_digest else None)

    def encode(self) -> bytes:
        if self.digest is None:
            return self.digest_hash + uint(0, 1)
        entries = b"".join(_entry_bytes(entry) for entry in self.digest)
        return self.digest_hash + uint(1, 1) + uint(len(self.digest), 2) + entries

    @classmethod
    def decode(cls, body: bytes) -> Sync:
        reader = _reader(body, "SYNC")
        announced_hash = reader.take(DIGEST_HASH_BYTES, "digest hash")
        has_digest = reader.uint(1, "digest flag")
        if has_digest > 1:
            raise WireError(f"SYNC body refused: digest flag {has_digest} is neither 0 nor 1")
        digest = None
        if has_digest:
            count = reader.uint(2, "digest entry count")
            digest = tuple(_read_entry(reader) for _ in range(count))
        return reader.done(cls(digest_hash=announced_hash, digest=digest))


@dataclass(frozen=True)
class SyncAck:
    """Anti-entropy, second step: the members the receiver should send, and the deltas the
    sender has that the receiver lacks."""

    FRAME_TYPE: ClassVar[FrameType] = FrameType.SYNC_ACK
    want: tuple[bytes, ...]
    deltas: tuple[Update, ...]

    def __post_init__(self) -> None:
        _check_count(self.want, MAX_DIGEST_ENTRIES, "wanted node ids")
        for node_id in self.want:
            _check_size(node_id, NODE_ID_BYTES, "a wanted node id")
        _check_count(self.deltas, MAX_SYNC_DELTAS, "deltas")

    def encode(self) -> bytes:
        return uint(len(self.want), 2) + b"".join(self.want) + _updates_bytes(self.deltas)

    @classmethod
    def decode(cls, body: bytes) -> SyncAck:
        reader = _reader(body, "SYNC_ACK")
        count = reader.uint(2, "wanted count")
        return reader.done(
            cls(
                want=tuple(reader.take(NODE_ID_BYTES, "wanted node id") for _ in range(count)),
                deltas=_read_updates(reader),
            )
        )


@dataclass(frozen=True)
class SyncDeltas:
    """Anti-entropy, last step: what the SYNC_ACK wanted."""

    FRAME_TYPE: ClassVar[FrameType] = FrameType.SYNC_DELTAS
    deltas: tuple[Update, ...]

    def __post_init__(self) -> None:
        _check_count(self.deltas, MAX_SYNC_DELTAS, "deltas")

    def encode(self) -> bytes:
        return _updates_bytes(self.deltas)

    @classmethod
    def decode(cls, body: bytes) -> SyncDeltas:
        reader = _reader(body, "SYNC_DELTAS")
        return reader.done(cls(deltas=_read_updates(reader)))


@dataclass(frozen=True)
class PeersReq:
    FRAME_TYPE: ClassVar[FrameType] = FrameType.PEERS_REQ
    max_records: int

    def __post_init__(self) -> None:
        if not 1 <= self.max_records <= MAX_PEERS:
            raise WireError(f"PEERS_REQ asks for {self.max_records} records, 1 to {MAX_PEERS}")

    def encode(self) -> bytes:
        return uint(self.max_records, 1)

    @classmethod
    def decode(cls, body: bytes) -> PeersReq:
        reader = _reader(body, "PEERS_REQ")
        return reader.done(cls(max_records=reader.uint(1, "max records")))


@dataclass(frozen=True)
class Peers:
    """Raw signed records of peers, for bootstrapping and peer exchange."""

    FRAME_TYPE: ClassVar[FrameType] = FrameType.PEERS
    records: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_count(self.records, MAX_PEERS, "peer records")
        for raw in self.records:
            _check_record_size(raw)

    def encode(self) -> bytes:
        return uint(len(self.records), 1) + b"".join(prefixed(raw, 2) for raw in self.records)

    @classmethod
    def decode(cls, body: bytes) -> Peers:
        reader = _reader(body, "PEERS")
        count = reader.uint(1, "record count")
        return reader.done(cls(records=tuple(reader.prefixed(2, "record") for _ in range(count))))


@dataclass(frozen=True)
class Err:
    """Why the sender refuses a request or is closing the connection."""

    FRAME_TYPE: ClassVar[FrameType] = FrameType.ERR
    code: int
    message: str

    def __post_init__(self) -> None:
        _check_uint(self.code, 0xFFFF, "error code")
        # The message is logged by the receiver: no control characters.
        if not self.message.isprintable():
            raise WireError("an ERR message holds control or unprintable characters")
        if len(self.message.encode("utf-8")) > MAX_ERROR_MESSAGE_BYTES:
            raise WireError(f"an ERR message is at most {MAX_ERROR_MESSAGE_BYTES} UTF-8 bytes")

    def encode(self) -> bytes:
        return uint(self.code, 2) + prefixed(self.message.encode("utf-8"), 1)

    @classmethod
    def decode(cls, body: bytes) -> Err:
        reader = _reader(body, "ERR")
        return reader.done(cls(code=reader.uint(2, "code"), message=reader.text(1, "message")))


@dataclass(frozen=True)
class HelloFin:
    """The caller's answer to HELLO_ACK: its signature over both nonces (`sign_hello_fin`),
    proving it holds the key of the record its HELLO carried. The answering node accepts no other
    message from the caller before it."""

    FRAME_TYPE: ClassVar[FrameType] = FrameType.HELLO_FIN
    signature: bytes

    def __post_init__(self) -> None:
        _check_size(self.signature, SIGNATURE_BYTES, "a signature")

    def encode(self) -> bytes:
        return self.signature

    @classmethod
    def decode(cls, body: bytes) -> HelloFin:
        reader = _reader(body, "HELLO_FIN")
        return reader.done(cls(signature=reader.take(SIGNATURE_BYTES, "signature")))


def sign_hello_fin(
    key: NodeKey, *, network_id: bytes, their_nonce: bytes, own_nonce: bytes
) -> bytes:
    """The calling node's proof of key possession: its signature over the network, the answering
    node's HELLO_ACK nonce (THEIR_NONCE) and its own HELLO nonce."""
    return key.sign(HELLO_FIN_DOMAIN, _hello_fin_content(network_id, their_nonce, own_nonce))


def verify_hello_fin(
    public_key: bytes, *, network_id: bytes, ack_nonce: bytes, hello_nonce: bytes, fin: HelloFin
) -> None:
    """Raise WireError unless FIN's signature is PUBLIC_KEY's answer to the HELLO_ACK that
    carried ACK_NONCE, on the connection its HELLO with HELLO_NONCE opened. PUBLIC_KEY comes from
    the opened record of that HELLO."""
    content = _hello_fin_content(network_id, ack_nonce, hello_nonce)
    if not signature_is_valid(public_key, HELLO_FIN_DOMAIN, content, fin.signature):
        raise WireError("the HELLO_FIN signature does not verify: the caller did not prove its key")


def _hello_fin_content(network_id: bytes, ack_nonce: bytes, hello_nonce: bytes) -> bytes:
    # HELLO_ACK's layout with the nonces swapped: each side signs the other's nonce first.
    return _hello_ack_content(network_id, ack_nonce, hello_nonce)


Message = (
    Hello
    | HelloAck
    | Ping
    | Ack
    | PingReq
    | Nack
    | Gossip
    | Sync
    | SyncAck
    | SyncDeltas
    | PeersReq
    | Peers
    | Err
    | HelloFin
)

MESSAGE_TYPES: dict[FrameType, type[Message]] = {
    message_type.FRAME_TYPE: message_type
    for message_type in (
        Hello,
        HelloAck,
        Ping,
        Ack,
        PingReq,
        Nack,
        Gossip,
        Sync,
        SyncAck,
        SyncDeltas,
        PeersReq,
        Peers,
        Err,
        HelloFin,
    )
}


def frame_of(message: Message) -> Frame:
    return Frame(message.FRAME_TYPE, message.encode())


def message_of(frame: Frame) -> Message:
    return MESSAGE_TYPES[frame.frame_type].decode(frame.body)
