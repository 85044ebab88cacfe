"""Typed entries of the public books, and the JSON Schemas that keep personal data out of them.

Every block of a book is one entry, encoded as canonical JSON (sorted keys, no spaces, UTF-8):

    {"type": "growr/loan", "v": 1, "key": "<entry key>", "value": {...}}

`value` is null for a deletion. Schemas are closed (`additionalProperties: false`) and every
identifier is pseudonymous (a UUID, a hash, a node's DID), so a name, phone number, address,
birth date or a borrower DID that links loans cannot be written to a book: the publishing
service validates each entry before it enters the outbox.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from .models import Book

MAX_ENTRY_BYTES = 64 * 1024
KEY_PATTERN = r"^[a-z0-9][a-z0-9:._/-]{0,199}$"
KEY_RE = re.compile(KEY_PATTERN)

_uuid = {"type": "string", "format": "uuid"}
_decimal = {"type": "string", "pattern": r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$"}
_currency = {"type": "string", "pattern": r"^[A-Z]{3}$"}
_date = {"type": "string", "format": "date"}
_datetime = {"type": "string", "format": "date-time"}
_hex32 = {"type": "string", "pattern": r"^[0-9a-f]{64}$"}
_did = {"type": "string", "pattern": r"^did:[a-z0-9]+:[A-Za-z0-9._:%-]{1,200}$"}
_label = {"type": "string", "maxLength": 200}
_url = {"type": "string", "format": "uri", "maxLength": 500}


def _object(properties: dict, required: list[str] | None = None) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": required if required is not None else list(properties),
        "additionalProperties": False,
    }


@dataclass(frozen=True, eq=False)
class EntryType:
    name: str
    version: int
    book: str
    schema: dict

    @cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.schema, format_checker=FormatChecker())


ENTRY_TYPES: dict[tuple[str, int], EntryType] = {
    (t.name, t.version): t
    for t in [
        EntryType(
            "growr/node-profile",
            1,
            Book.NODE_PROFILE,
            _object(
                {
                    "name": _label,
                    "role": {"enum": ["originator", "investor"]},
                    "url": _url,
                    "books": {
                        "type": "array",
                        "maxItems": 32,
                        "items": _object({"book": {"enum": Book.values}, "key": _hex32}),
                    },
                    "trusted_issuers": {"type": "array", "maxItems": 1000, "items": _did},
                },
            ),
        ),
        EntryType(
            "growr/project",
            1,
            Book.PROJECTS,
            _object(
                {
                    "project": _uuid,
                    "version": {"type": "integer", "minimum": 1},
                    "status": {"enum": ["published", "paused", "closed", "funded"]},
                    "terms": {"type": "object", "maxProperties": 64},
                    "eligibility": {"type": ["object", "null"]},
                },
            ),
        ),
        EntryType(
            "growr/loan",
            1,
            Book.LOANS,
            _object(
                {
                    "loan": _uuid,
                    "project": _uuid,
                    "version": {"type": "integer", "minimum": 1},
                    "status": {
                        "enum": [
                            "submitted",
                            "approved",
                            "active",
                            "overpaid",
                            "closed",
                            "written_off",
                            "rejected",
                            "withdrawn",
                        ]
                    },
                    "currency": _currency,
                    "amount": _decimal,
                    "duration": {"type": "integer", "minimum": 1},
                    "duration_unit": {"enum": ["weeks", "fortnights", "months", "days"]},
                    "submitted_on": _date,
                    "agreement_hash": {"anyOf": [_hex32, {"type": "null"}]},
                    "disbursed_on": {"anyOf": [_date, {"type": "null"}]},
                    "closed_on": {"anyOf": [_date, {"type": "null"}]},
                    "repaid": _object(
                        {"principal": _decimal, "interest": _decimal, "fees": _decimal}
                    ),
                    "written_off": _decimal,
                    "days_past_due": {"type": "integer", "minimum": 0},
                    "arrears_bucket": {"enum": ["current", "1-30", "31-60", "61-90", "90+"]},
                },
            ),
        ),
        EntryType(
            "growr/funding-event",
            1,
            Book.FUNDING,
            _object(
                {
                    "commitment": _uuid,
                    "project": _uuid,
                    "investor": _hex32,
                    "event": {"enum": ["committed", "confirmed", "refunded", "cancelled"]},
                    "amount": _decimal,
                    "currency": _currency,
                    "at": _datetime,
                },
            ),
        ),
        EntryType(
            "growr/distribution",
            1,
            Book.FUNDING,
            _object(
                {
                    "commitment": _uuid,
                    "project": _uuid,
                    "payment": _uuid,
                    "loan": _uuid,
                    "kind": {"enum": ["repayment", "loss"]},
                    "on": _date,
                    "currency": _currency,
                    "principal": _decimal,
                    "interest": _decimal,
                    "loss": _decimal,
                },
            ),
        ),
        EntryType(
            "growr/payment",
            1,
            Book.PAYMENTS,
            _object(
                {
                    "payment": _uuid,
                    "loan": _uuid,
                    "project": _uuid,
                    "kind": {"enum": ["repayment", "disbursement", "reversal", "write_off"]},
                    "amount": _decimal,
                    "currency": _currency,
                    "on": _date,
                    # How a repayment was allocated (what funders' distributions split).
                    "principal": _decimal,
                    "interest": _decimal,
                    "fees": _decimal,
                    "overpaid": _decimal,
                },
                required=["payment", "loan", "kind", "amount", "currency", "on"],
            ),
        ),
        EntryType(
            "growr/credential-status-list",
            2,
            Book.CREDENTIAL_STATUS,
            _object(
                {
                    "issuer": _did,
                    "list": {"type": "integer", "minimum": 0},
                    "purpose": {"enum": ["revocation", "suspension"]},
                    # base64url of the gzip-compressed bitstring (W3C Bitstring Status List)
                    "encoded_list": {
                        "type": "string",
                        "pattern": r"^[A-Za-z0-9_-]+$",
                        "maxLength": 60000,
                    },
                    # Raised by every change; readers keep the highest, so an old list (with a
                    # credential not yet revoked) cannot be replayed.
                    "seq": {"type": "integer", "minimum": 0},
                    # The issuer's Ed25519 signature (base64url) over the other fields, so no
                    # node serving the book can forge an issuer's list.
                    "signature": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{86}$"},
                },
            ),
        ),
    ]
}


class InvalidEntry(ValueError):
    """An entry that does not match its book's schema; nothing of it is stored."""


def encode_entry(*, book: str, entry_type: str, version: int, key: str, value: Any) -> bytes:
    """Validate one entry and return the exact bytes that become its block."""
    known = ENTRY_TYPES.get((entry_type, version))
    if known is None:
        raise InvalidEntry(f"unknown entry type {entry_type}@{version}")
    if known.book != book:
        raise InvalidEntry(f"{entry_type} entries belong in the {known.book} book, not {book}")
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise InvalidEntry(f"entry key {key!r} must match {KEY_PATTERN}")
    if value is not None:
        errors = sorted(known.validator.iter_errors(value), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.path) or "(entry)"
            raise InvalidEntry(f"{entry_type}@{version} at {where}: {first.message}")
    data = canonical_json({"type": entry_type, "v": version, "key": key, "value": value})
    if len(data) > MAX_ENTRY_BYTES:
        raise InvalidEntry(f"entry is {len(data)} bytes; the limit is {MAX_ENTRY_BYTES}")
    return data


def decode_entry(data: bytes) -> dict:
    """Parse a block back into its entry (as readers and the index rebuild do)."""
    try:
        entry = json.loads(bytes(data))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidEntry(f"block is not JSON: {exc}") from exc
    if not isinstance(entry, dict) or not {"type", "v", "key", "value"} <= entry.keys():
        raise InvalidEntry("block is not a book entry")
    return entry


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
