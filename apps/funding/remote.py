"""Commitments sent from an investor's own node, in plain Python with no Django import.

An investor who runs a node commits to a project on an originator's node by sending a compact
EdDSA JWS signed with the key of their did:key:

    header  {"alg": "EdDSA", "kid": "<did>#<key>", "typ": "growr-commitment+jwt"}
    payload {"project": "<uuid>", "amount": "<decimal string>", "currency": "KES",
             "request_id": "<8-64 of A-Z a-z 0-9 _ ->", "aud": "<originator host[:port]>",
             "iat": <unix seconds>, "exp": <unix seconds, at most 10 minutes later>}

The DID in the kid is the investor; the audience binds the commitment to one originator node,
and the request id makes a resent commitment the same one (a replay changes nothing).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from apps.identity.ssi.didkey import Ed25519Key, InvalidDid, public_key_from_did
from apps.identity.ssi.jose import InvalidJws, parse_jws, sign_jws

JWS_TYPE = "growr-commitment+jwt"
MAX_LIFETIME = 600  # seconds
CLOCK_SKEW = 60
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
AMOUNT = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,4})?$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
PAYLOAD_KEYS = frozenset({"project", "amount", "currency", "request_id", "aud", "iat", "exp"})


class InvalidCommitment(ValueError):
    """A signed commitment that is malformed, not signed by its investor, or not for us now."""


@dataclass(frozen=True)
class SignedCommitment:
    investor_did: str
    project: uuid.UUID
    amount: Decimal
    currency: str
    request_id: str


def sign_commitment(
    *,
    key: Ed25519Key,
    project: uuid.UUID,
    amount: Decimal,
    currency: str,
    request_id: str,
    audience: str,
    now: int,
) -> str:
    return sign_jws(
        header={"kid": key.verification_method, "typ": JWS_TYPE},
        payload={
            "project": str(project),
            "amount": str(amount),
            "currency": currency,
            "request_id": request_id,
            "aud": audience,
            "iat": now,
            "exp": now + MAX_LIFETIME,
        },
        key=key,
    )


def _whole_seconds(payload: dict, name: str) -> int:
    value = payload.get(name)
    if type(value) is not int:
        raise InvalidCommitment(f"{name} is a whole number of seconds")
    return value


def read_commitment(token: object, *, audience: str, now: int) -> SignedCommitment:
    """The commitment TOKEN carries, once its form, signature, audience and time are checked."""
    try:
        parsed = parse_jws(token)
    except InvalidJws as exc:
        raise InvalidCommitment(str(exc)) from exc
    if parsed.header.get("typ") != JWS_TYPE:
        raise InvalidCommitment(f"the token is not a {JWS_TYPE}")
    kid = parsed.header.get("kid")
    did = kid.split("#")[0] if isinstance(kid, str) else ""
    try:
        public_key = public_key_from_did(did)
    except InvalidDid as exc:
        raise InvalidCommitment(f"the kid names no did:key: {exc}") from exc
    if not parsed.verify_with(public_key):
        raise InvalidCommitment("the signature does not verify with the investor's DID")
    payload = parsed.payload
    if set(payload) != PAYLOAD_KEYS:
        raise InvalidCommitment(f"the payload has exactly: {', '.join(sorted(PAYLOAD_KEYS))}")
    if payload["aud"] != audience:
        raise InvalidCommitment(f"the commitment is meant for {payload['aud']!r}, not {audience}")
    issued, expires = _whole_seconds(payload, "iat"), _whole_seconds(payload, "exp")
    if not issued <= expires <= issued + MAX_LIFETIME:
        raise InvalidCommitment(f"a commitment is valid for at most {MAX_LIFETIME} seconds")
    if issued > now + CLOCK_SKEW:
        raise InvalidCommitment("the commitment is dated in the future")
    if expires < now - CLOCK_SKEW:
        raise InvalidCommitment("the commitment expired; sign a new one")
    fields = [payload[name] for name in ("amount", "currency", "request_id")]
    if not all(isinstance(value, str) for value in fields):
        raise InvalidCommitment("amount, currency and request_id are strings")
    amount, currency, request_id = fields
    if not AMOUNT.fullmatch(amount):
        raise InvalidCommitment('the amount is a decimal string, such as "2500.00"')
    if not CURRENCY.fullmatch(currency):
        raise InvalidCommitment("the currency is an ISO 4217 code")
    if not REQUEST_ID.fullmatch(request_id):
        raise InvalidCommitment("the request id is 8 to 64 letters, digits, - or _")
    try:
        project = uuid.UUID(str(payload["project"]))
        value = Decimal(amount)
    except (ValueError, InvalidOperation) as exc:
        raise InvalidCommitment("the project is a UUID") from exc
    return SignedCommitment(did, project, value, currency, request_id)
