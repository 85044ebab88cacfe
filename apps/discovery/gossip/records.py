"""Who a node is and what it says, signed: node keys, the node record and liveness claims.

Everything here may come from an untrusted peer, so opening checks the size first and the
signature before reading any other field, as libp2p's signed envelopes do (gossip.md §5.1, §7.2).
The byte layouts are in docs/protocol.md; the codec is codec.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import NoReturn
from urllib.parse import urlsplit

from nacl.signing import SigningKey

from .claims import (
    NETWORK_ID_BYTES,
    NODE_ID_BYTES,
    BookAnnouncement,
    Claim,
    NodeRecord,
    Role,
    Status,
)
from .codec import ByteReader, prefixed, signable, signature_is_valid, uint

SEED_BYTES = 32
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
BOOK_KEY_BYTES = 32
U64_MAX = 2**64 - 1

RECORD_VERSION = 1
RECORD_DOMAIN = b"growr-node-record-v1"
MAX_RECORD_BYTES = 1024
MAX_NAME_BYTES = 64
MAX_URL_BYTES = 256
MAX_HOST_BYTES = 253
MAX_BOOKS = 16
MAX_KIND_BYTES = 32

CLAIM_VERSION = 1
CLAIM_DOMAIN = b"growr-claim-v1"
CLAIM_BYTES = 1 + PUBLIC_KEY_BYTES + NETWORK_ID_BYTES + 1 + NODE_ID_BYTES + 8 + SIGNATURE_BYTES

# The version byte and the signer's key lead every signed item, so both are readable (and the
# signature checkable) before any variable-length field is parsed.
_SIGNED_HEAD_BYTES = 1 + PUBLIC_KEY_BYTES

# Fixed codes, not enum positions: reordering Role must not change what is on the wire.
_ROLE_CODES = {Role.ORIGINATOR: 1, Role.INVESTOR: 2}
_ROLES_BY_CODE = {code: role for role, code in _ROLE_CODES.items()}

# Only a node may raise its own incarnation or announce its own departure (memberlist #370).
_SELF_SIGNED_STATUSES = frozenset({Status.ALIVE, Status.LEFT})

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


class RecordError(ValueError):
    """A node record or claim that cannot be trusted or is malformed; the message says why."""


def node_id_for(public_key: bytes) -> bytes:
    return hashlib.sha256(public_key).digest()


def network_id_for(name: str) -> bytes:
    return hashlib.sha256(name.encode("utf-8")).digest()


class NodeKey:
    """A node's Ed25519 key pair. Its node id is the SHA-256 of the public key."""

    def __init__(self, signing_key: SigningKey) -> None:
        self._signing_key = signing_key
        self.public_key = bytes(signing_key.verify_key)
        self.node_id = node_id_for(self.public_key)

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> NodeKey:
        if len(seed) != SEED_BYTES:
            raise ValueError(f"a node key seed is {SEED_BYTES} bytes, got {len(seed)}")
        return cls(SigningKey(bytes(seed)))

    @property
    def seed(self) -> bytes:
        """The 32 secret bytes to persist; `from_seed` restores the same key."""
        return bytes(self._signing_key)

    def sign(self, domain: bytes, content: bytes) -> bytes:
        return self._signing_key.sign(signable(domain, content)).signature


# Node records.


def sign_record(
    key: NodeKey,
    *,
    network_id: bytes,
    seq: int,
    role: Role,
    name: str,
    url: str,
    gossip_host: str,
    gossip_port: int,
    books: Iterable[BookAnnouncement],
) -> NodeRecord:
    """KEY's record, refused with RecordError if any field is one `open_record` would refuse."""
    unsigned = NodeRecord(
        network_id=network_id,
        node_id=key.node_id,
        public_key=key.public_key,
        seq=seq,
        role=role,
        name=name,
        url=url,
        gossip_host=gossip_host,
        gossip_port=gossip_port,
        books=tuple(books),
        raw=b"",
    )
    _check_record_fields(unsigned)
    content = _record_content(unsigned)
    size = len(content) + SIGNATURE_BYTES
    if size > MAX_RECORD_BYTES:
        _refuse_record(f"it would be {size} bytes, at most {MAX_RECORD_BYTES}")
    return dataclasses.replace(unsigned, raw=content + key.sign(RECORD_DOMAIN, content))


def open_record(raw: bytes, *, network_id: bytes) -> NodeRecord:
    """The record RAW signs, if it is well formed, signed by its own key and for NETWORK_ID."""
    raw = bytes(raw)
    if len(raw) > MAX_RECORD_BYTES:
        _refuse_record(f"{len(raw)} bytes is over the {MAX_RECORD_BYTES}-byte limit")
    public_key, reader = _open_signed(
        raw, version=RECORD_VERSION, domain=RECORD_DOMAIN, what="node record"
    )
    if reader.take(NODE_ID_BYTES, "node id") != node_id_for(public_key):
        _refuse_record("the node id is not the SHA-256 of the public key")
    if reader.take(NETWORK_ID_BYTES, "network id") != network_id:
        _refuse_record("it belongs to another network")
    record = reader.done(
        NodeRecord(
            network_id=network_id,
            node_id=node_id_for(public_key),
            public_key=public_key,
            seq=reader.uint(8, "seq"),
            role=_role_for_code(reader.uint(1, "role")),
            name=reader.text(1, "name"),
            url=reader.text(2, "url", encoding="ascii"),
            gossip_host=reader.text(1, "gossip host", encoding="ascii"),
            gossip_port=reader.uint(2, "gossip port"),
            books=tuple(_read_book(reader) for _ in range(reader.uint(1, "book count"))),
            raw=raw,
        )
    )
    _check_record_fields(record)
    return record


def _record_content(record: NodeRecord) -> bytes:
    return b"".join(
        [
            uint(RECORD_VERSION, 1),
            record.public_key,
            record.node_id,
            record.network_id,
            uint(record.seq, 8),
            uint(_ROLE_CODES[record.role], 1),
            prefixed(record.name.encode("utf-8"), 1),
            prefixed(record.url.encode("ascii"), 2),
            prefixed(record.gossip_host.encode("ascii"), 1),
            uint(record.gossip_port, 2),
            uint(len(record.books), 1),
            *(_book_bytes(book) for book in record.books),
        ]
    )


def _book_bytes(book: BookAnnouncement) -> bytes:
    return book.key + prefixed(book.kind.encode("ascii"), 1) + uint(book.length, 8)


def _read_book(reader: ByteReader) -> BookAnnouncement:
    return BookAnnouncement(
        key=reader.take(BOOK_KEY_BYTES, "book key"),
        kind=reader.text(1, "book kind", encoding="ascii"),
        length=reader.uint(8, "book length"),
    )


def _role_for_code(code: int) -> Role:
    if code not in _ROLES_BY_CODE:
        _refuse_record(f"unknown role code {code}")
    return _ROLES_BY_CODE[code]


def _check_record_fields(record: NodeRecord) -> None:
    """The rules a record's content obeys, the same when signing as when opening."""
    _check_network_id(record.network_id, _refuse_record)
    if not 0 <= record.seq <= U64_MAX:
        _refuse_record(f"seq {record.seq} does not fit in 64 bits")
    if record.role not in _ROLE_CODES:
        _refuse_record(f"role {record.role!r} is not one of {', '.join(_ROLE_CODES)}")
    _check_name(record.name)
    _check_url(record.url)
    if not is_host(record.gossip_host):
        _refuse_record(f"gossip host {record.gossip_host!r} is not a host name or IP address")
    if not 1 <= record.gossip_port <= 65535:
        _refuse_record(f"gossip port {record.gossip_port} is not between 1 and 65535")
    _check_books(record.books)


def _check_name(name: str) -> None:
    # Names end up in every peer's logs and pages: no control characters (nor lone surrogates,
    # which would not encode).
    if not name.isprintable():
        _refuse_record("the name holds control or unprintable characters")
    size = len(name.encode("utf-8"))
    if not 1 <= size <= MAX_NAME_BYTES:
        _refuse_record(f"the name is {size} bytes, it must be 1 to {MAX_NAME_BYTES}")


def _check_url(url: str) -> None:
    if not 1 <= len(url) <= MAX_URL_BYTES or not _VISIBLE_ASCII.fullmatch(url):
        _refuse_record(f"the url must be 1 to {MAX_URL_BYTES} visible ASCII characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # parses the port, raising ValueError if it is not a number in range
    except ValueError:
        _refuse_record(f"the url {url!r} does not parse")
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        _refuse_record(f"the url {url!r} is not an http(s) url with a host")


def _check_books(books: tuple[BookAnnouncement, ...]) -> None:
    if len(books) > MAX_BOOKS:
        _refuse_record(f"it announces {len(books)} books, at most {MAX_BOOKS}")
    for book in books:
        if len(book.key) != BOOK_KEY_BYTES:
            _refuse_record(f"a book key is {BOOK_KEY_BYTES} bytes, got {len(book.key)}")
        if len(book.kind) > MAX_KIND_BYTES or not _VISIBLE_ASCII.fullmatch(book.kind):
            _refuse_record(f"book kind {book.kind!r} is not 1 to {MAX_KIND_BYTES} visible ASCII")
        if not 0 <= book.length <= U64_MAX:
            _refuse_record(f"book length {book.length} does not fit in 64 bits")
    if len({book.key for book in books}) != len(books):
        _refuse_record("it announces the same book twice")


def is_host(text: str) -> bool:
    """An IP address, or a DNS name of letter-digit-hyphen labels (RFC 1123), in 253 bytes."""
    # A scoped IPv6 address (fe80::1%eth0) means nothing to another host.
    if len(text) > MAX_HOST_BYTES or not _VISIBLE_ASCII.fullmatch(text) or "%" in text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return all(_HOST_LABEL.fullmatch(label) for label in text.split("."))
    return True


def _refuse_record(problem: str) -> NoReturn:
    raise RecordError(f"node record refused: {problem}")


# Claims.


def sign_claim(
    key: NodeKey, *, network_id: bytes, status: Status, subject: bytes, incarnation: int
) -> Claim:
    """KEY's claim that SUBJECT is STATUS at INCARNATION. KEY is the accuser; only the subject
    itself may claim ALIVE or LEFT."""
    _check_network_id(network_id, _refuse_claim)
    status = _status_for_code(status)
    if len(subject) != NODE_ID_BYTES:
        _refuse_claim(f"the subject is a {NODE_ID_BYTES}-byte node id, got {len(subject)} bytes")
    if not 0 <= incarnation <= U64_MAX:
        _refuse_claim(f"incarnation {incarnation} does not fit in 64 bits")
    _check_self_signed(status, subject=subject, accuser=key.node_id)
    content = b"".join(
        [
            uint(CLAIM_VERSION, 1),
            key.public_key,
            network_id,
            uint(status, 1),
            subject,
            uint(incarnation, 8),
        ]
    )
    return Claim(
        status=status,
        subject=bytes(subject),
        incarnation=incarnation,
        accuser=key.node_id,
        raw=content + key.sign(CLAIM_DOMAIN, content),
    )


def open_claim(raw: bytes, *, network_id: bytes) -> Claim:
    """The claim RAW signs, if it is well formed, for NETWORK_ID, signed by the accuser whose key
    it carries, and self-signed when it says ALIVE or LEFT."""
    raw = bytes(raw)
    if len(raw) != CLAIM_BYTES:
        _refuse_claim(f"a claim is {CLAIM_BYTES} bytes, got {len(raw)}")
    public_key, reader = _open_signed(raw, version=CLAIM_VERSION, domain=CLAIM_DOMAIN, what="claim")
    if reader.take(NETWORK_ID_BYTES, "network id") != network_id:
        _refuse_claim("it belongs to another network")
    claim = reader.done(
        Claim(
            status=_status_for_code(reader.uint(1, "status")),
            subject=reader.take(NODE_ID_BYTES, "subject"),
            incarnation=reader.uint(8, "incarnation"),
            accuser=node_id_for(public_key),
            raw=raw,
        )
    )
    _check_self_signed(claim.status, subject=claim.subject, accuser=claim.accuser)
    return claim


def _status_for_code(code: int) -> Status:
    try:
        return Status(code)
    except ValueError:
        _refuse_claim(f"unknown status code {code}")


def _check_self_signed(status: Status, *, subject: bytes, accuser: bytes) -> None:
    if status in _SELF_SIGNED_STATUSES and subject != accuser:
        _refuse_claim(
            f"a {status.name} claim about {subject.hex()[:16]} is signed by "
            f"{accuser.hex()[:16]}; only a node itself may say it is {status.name}"
        )


def _refuse_claim(problem: str) -> NoReturn:
    raise RecordError(f"claim refused: {problem}")


# Shared by records and claims.


def _open_signed(raw: bytes, *, version: int, domain: bytes, what: str) -> tuple[bytes, ByteReader]:
    """Check RAW's version byte and signature, before any other field is read. Return the
    signer's public key and a reader positioned after it."""
    if len(raw) < _SIGNED_HEAD_BYTES + SIGNATURE_BYTES:
        raise RecordError(f"{what} refused: {len(raw)} bytes is too short to be signed")
    if raw[0] != version:
        raise RecordError(f"{what} refused: unknown version {raw[0]}, expected {version}")
    public_key = raw[1:_SIGNED_HEAD_BYTES]
    content, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    if not signature_is_valid(public_key, domain, content, signature):
        raise RecordError(f"{what} refused: the signature does not verify for its public key")
    reader = ByteReader(content, what=f"{what} refused", error=RecordError)
    reader.take(_SIGNED_HEAD_BYTES, "version and public key")
    return public_key, reader


def _check_network_id(network_id: bytes, refuse: Callable[[str], NoReturn]) -> None:
    if len(network_id) != NETWORK_ID_BYTES:
        refuse(f"a network id is {NETWORK_ID_BYTES} bytes, got {len(network_id)}")
