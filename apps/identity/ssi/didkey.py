"""did:key for Ed25519 keys: the DID is the public key itself (multicodec 0xed01, base58btc).

Resolving one needs no network, so every node verifies every signature offline.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
_ED25519_MULTICODEC = b"\xed\x01"
DID_KEY_PREFIX = "did:key:z"
MAX_DID_LENGTH = 120


class InvalidDid(ValueError):
    """A string that is not an Ed25519 did:key."""


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rest = divmod(number, 58)
        out.append(_B58_ALPHABET[rest])
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise ValueError(f"{char!r} is not a base58 character")
        number = number * 58 + _B58_INDEX[char]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    leading_ones = len(text) - len(text.lstrip("1"))
    return b"\0" * leading_ones + body


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or "=" in text:
        raise ValueError("not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not unpadded base64url") from exc


def did_from_public_key(public_key: bytes) -> str:
    if len(public_key) != 32:
        raise InvalidDid("an Ed25519 public key is 32 bytes")
    return DID_KEY_PREFIX + b58encode(_ED25519_MULTICODEC + public_key)


def public_key_from_did(did: str) -> bytes:
    """The Ed25519 public key a did:key (or one of its verification method URLs) names."""
    if not isinstance(did, str) or len(did) > 2 * MAX_DID_LENGTH:
        raise InvalidDid("a did:key is a short string")
    did = did.split("#", 1)[0]
    if not did.startswith(DID_KEY_PREFIX) or len(did) > MAX_DID_LENGTH:
        raise InvalidDid("only did:key DIDs (base58btc, starting did:key:z) are accepted")
    try:
        decoded = b58decode(did[len(DID_KEY_PREFIX) :])
    except ValueError as exc:
        raise InvalidDid(str(exc)) from exc
    if len(decoded) != 34 or not decoded.startswith(_ED25519_MULTICODEC):
        raise InvalidDid("the did:key does not hold an Ed25519 public key")
    return decoded[2:]


def verification_method(did: str) -> str:
    return f"{did}#{did[len('did:key:') :]}"


def verify_signature(*, did: str, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(public_key_from_did(did)).verify(message, signature)
    except (BadSignatureError, InvalidDid, ValueError):
        return False
    return True


@dataclass(frozen=True, repr=False)
class Ed25519Key:
    """A private key. Its repr never shows the seed."""

    seed: bytes

    @classmethod
    def generate(cls) -> Ed25519Key:
        return cls(bytes(SigningKey.generate()))

    @classmethod
    def from_jwk(cls, jwk: dict) -> Ed25519Key:
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise ValueError("the key must be an Ed25519 JWK (kty OKP, crv Ed25519)")
        try:
            seed = b64url_decode(jwk["d"])
        except (KeyError, ValueError) as exc:
            raise ValueError("the JWK has no valid private part d") from exc
        if len(seed) != 32:
            raise ValueError("an Ed25519 private key is 32 bytes")
        key = cls(seed)
        if "x" in jwk and jwk["x"] != b64url_encode(key.public_key):
            raise ValueError("the JWK's public part x does not match its private part d")
        return key

    def __repr__(self) -> str:
        return f"Ed25519Key({self.did})"

    @property
    def public_key(self) -> bytes:
        return bytes(SigningKey(self.seed).verify_key)

    @property
    def did(self) -> str:
        return did_from_public_key(self.public_key)

    @property
    def verification_method(self) -> str:
        return verification_method(self.did)

    def sign(self, message: bytes) -> bytes:
        return SigningKey(self.seed).sign(message).signature

    def public_jwk(self) -> dict:
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(self.public_key)}

    def private_jwk(self) -> dict:
        return {**self.public_jwk(), "d": b64url_encode(self.seed)}


def did_from_jwk(jwk: dict) -> str:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise InvalidDid("the holder key must be an Ed25519 JWK")
    try:
        return did_from_public_key(b64url_decode(jwk.get("x", "")))
    except ValueError as exc:
        raise InvalidDid("the holder JWK has no valid public part x") from exc
