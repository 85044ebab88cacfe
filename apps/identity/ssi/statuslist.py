"""Bitstring status lists (W3C Bitstring Status List): one bit per credential, set = revoked.

A list is 131,072 bits, the W3C minimum, so a bit reveals nothing about how many credentials an
issuer has; gzip makes an almost empty list about 150 bytes in the credential status book.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass

from .didkey import Ed25519Key, b64url_decode, b64url_encode, verify_signature

LIST_BITS = 131_072
LIST_BYTES = LIST_BITS // 8
PURPOSES = ("revocation", "suspension")


class InvalidStatusList(ValueError):
    """An encoded list that does not decode to exactly one list's worth of bits."""


@dataclass(frozen=True)
class StatusRef:
    """Where a credential's status bit lives."""

    issuer: str
    list: int
    index: int
    purpose: str = "revocation"

    def __post_init__(self) -> None:
        if not 0 <= self.index < LIST_BITS:
            raise ValueError(f"a status index is between 0 and {LIST_BITS - 1}")
        if self.list < 0:
            raise ValueError("a status list number is not negative")
        if self.purpose not in PURPOSES:
            raise ValueError(f"a status purpose is one of {', '.join(PURPOSES)}")

    @property
    def list_id(self) -> str:
        return f"urn:growr:status:{self.purpose}:{self.list}:{self.issuer}"


def parse_list_id(list_id: str) -> tuple[str, int, str]:
    """(issuer, list, purpose) of a urn:growr:status id."""
    parts = list_id.split(":", 5) if isinstance(list_id, str) else []
    if len(parts) != 6 or parts[:3] != ["urn", "growr", "status"] or not parts[4].isdigit():
        raise ValueError("a status list id looks like urn:growr:status:<purpose>:<n>:<issuer DID>")
    return parts[5], int(parts[4]), parts[3]


class Bitstring:
    def __init__(self, data: bytes | None = None) -> None:
        self._bits = bytearray(data if data is not None else LIST_BYTES)
        if len(self._bits) != LIST_BYTES:
            raise InvalidStatusList(f"a status list holds exactly {LIST_BYTES} bytes")

    def __getitem__(self, index: int) -> bool:
        # Bit 0 is the most significant bit of byte 0, as the W3C spec numbers them.
        return bool(self._bits[index // 8] & (0x80 >> (index % 8)))

    def set(self, index: int, value: bool) -> None:
        mask = 0x80 >> (index % 8)
        if value:
            self._bits[index // 8] |= mask
        else:
            self._bits[index // 8] &= ~mask & 0xFF

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def encode(self) -> str:
        return b64url_encode(gzip.compress(self.to_bytes(), compresslevel=9, mtime=0))

    @classmethod
    def decode(cls, encoded: str) -> Bitstring:
        try:
            compressed = b64url_decode(encoded)
        except ValueError as exc:
            raise InvalidStatusList("the status list is not base64url") from exc
        # Decompress at most one list plus a byte, so a gzip bomb costs nothing.
        inflater = zlib.decompressobj(wbits=31)
        try:
            data = inflater.decompress(compressed, LIST_BYTES + 1)
        except zlib.error as exc:
            raise InvalidStatusList("the status list is not gzip") from exc
        if len(data) != LIST_BYTES or not inflater.eof:
            raise InvalidStatusList(f"a status list decompresses to exactly {LIST_BYTES} bytes")
        return cls(data)


def _signed_part(*, issuer: str, list_number: int, purpose: str, encoded: str, seq: int) -> bytes:
    statement = {
        "encoded_list": encoded,
        "issuer": issuer,
        "list": list_number,
        "purpose": purpose,
        "seq": seq,
        "type": "growr/credential-status-list",
    }
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()


def sign_status_list(
    *, key: Ed25519Key, list_number: int, purpose: str, encoded: str, seq: int
) -> str:
    """The issuer's signature over one version of a list: any node can tell that the issuer,
    not whichever node serves the book, said which credentials are revoked."""
    message = _signed_part(
        issuer=key.did, list_number=list_number, purpose=purpose, encoded=encoded, seq=seq
    )
    return b64url_encode(key.sign(message))


def status_list_signature_valid(
    *, issuer: str, list_number: int, purpose: str, encoded: str, seq: int, signature: str
) -> bool:
    try:
        raw = b64url_decode(signature)
    except ValueError:
        return False
    message = _signed_part(
        issuer=issuer, list_number=list_number, purpose=purpose, encoded=encoded, seq=seq
    )
    return verify_signature(did=issuer, message=message, signature=raw)
