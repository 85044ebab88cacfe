"""Compact JWS with EdDSA (Ed25519), the one algorithm Growr signs JWTs with.

Browsers (WebCrypto) and the command-line wallet make these too, so parsing is strict: size caps,
unpadded base64url, JSON objects only, `alg` pinned to EdDSA.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .didkey import Ed25519Key, b64url_decode, b64url_encode

MAX_JWT_BYTES = 256 * 1024


class InvalidJws(ValueError):
    """A token that is not a well-formed compact EdDSA JWS."""


@dataclass(frozen=True)
class ParsedJws:
    header: dict
    payload: dict
    signing_input: bytes
    signature: bytes

    def verify_with(self, public_key: bytes) -> bool:
        try:
            VerifyKey(public_key).verify(self.signing_input, self.signature)
        except (BadSignatureError, ValueError):
            return False
        return True


def _json_segment(segment: str, what: str) -> dict:
    try:
        value = json.loads(b64url_decode(segment))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidJws(f"the JWS {what} is not base64url JSON") from exc
    if not isinstance(value, dict):
        raise InvalidJws(f"the JWS {what} is not a JSON object")
    return value


def parse_jws(token: str) -> ParsedJws:
    if not isinstance(token, str) or len(token) > MAX_JWT_BYTES:
        raise InvalidJws(f"a JWS is a string of at most {MAX_JWT_BYTES} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidJws("a compact JWS has three dot-separated parts")
    header = _json_segment(parts[0], "header")
    if header.get("alg") != "EdDSA":
        raise InvalidJws("only EdDSA (Ed25519) signatures are accepted")
    payload = _json_segment(parts[1], "payload")
    try:
        signature = b64url_decode(parts[2])
    except ValueError as exc:
        raise InvalidJws("the JWS signature is not base64url") from exc
    if len(signature) != 64:
        raise InvalidJws("an Ed25519 signature is 64 bytes")
    return ParsedJws(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def sign_jws(*, header: dict, payload: dict, key: Ed25519Key) -> str:
    def segment(obj: dict) -> str:
        return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())

    signing_input = f"{segment({**header, 'alg': 'EdDSA'})}.{segment(payload)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode('ascii')))}"
