"""What a head signature covers, and the two signature forms: compat (raw 64 bytes) and
manifest v1 (a 68-byte single-proof multisig envelope)."""

from __future__ import annotations

import enum
from typing import NamedTuple

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from .crypto import TREE_NS, manifest_key
from .encoding import DecodeError, decode_fixed, decode_uint, encode_uint, u64
from .errors import InvalidSignature

SIGNATURE_BYTES = 64


class Mode(enum.Enum):
    """COMPAT: the key is the Ed25519 public key (hypercore's default without a manifest).
    MANIFEST: the key is the hash of the default single-signer manifest (what Corestore uses)."""

    COMPAT = "compat"
    MANIFEST = "manifest"


class LogKeys(NamedTuple):
    mode: Mode
    public_key: bytes
    key: bytes

    @classmethod
    def for_public_key(cls, public_key: bytes, mode: Mode) -> LogKeys:
        key = public_key if mode is Mode.COMPAT else manifest_key(public_key)
        return cls(mode, public_key, key)


def signable(keys: LogKeys, tree_hash: bytes, length: int, fork: int) -> bytes:
    tail = tree_hash + u64(length) + u64(fork)
    if keys.mode is Mode.COMPAT:
        return TREE_NS + tail
    return TREE_NS + keys.key + tail


class Signer:
    """A log's signing key, derived once for any number of heads."""

    def __init__(self, keys: LogKeys, secret_key: bytes) -> None:
        self.keys = keys
        self._signing_key = SigningKey(secret_key[:32])

    def sign(self, tree_hash: bytes, length: int, fork: int) -> bytes:
        message = signable(self.keys, tree_hash, length, fork)
        raw = self._signing_key.sign(message).signature
        return raw if self.keys.mode is Mode.COMPAT else envelope(raw)


def sign(keys: LogKeys, secret_key: bytes, tree_hash: bytes, length: int, fork: int) -> bytes:
    return Signer(keys, secret_key).sign(tree_hash, length, fork)


def envelope(raw: bytes) -> bytes:
    """The multisig form of one signer's signature: proofs=[{signer 0, sig, patch 0}]."""
    return encode_uint(1) + encode_uint(0) + raw + encode_uint(0) + encode_uint(0)


def raw_signatures(keys: LogKeys, signature: bytes) -> list[bytes]:
    """The Ed25519 signatures inside SIGNATURE, checked for shape (not yet verified)."""
    signature = bytes(signature)
    if keys.mode is Mode.COMPAT:
        if len(signature) != SIGNATURE_BYTES:
            raise InvalidSignature(f"a compat signature is 64 bytes, got {len(signature)}")
        return [signature]
    try:
        return _open_envelope(signature)
    except DecodeError as exc:
        raise InvalidSignature(f"malformed signature envelope: {exc}") from exc


def _open_envelope(data: bytes) -> list[bytes]:
    count, at = decode_uint(data)
    if count < 1:
        raise InvalidSignature("the signature envelope holds no proof (quorum is 1)")
    signatures, signers = [], set()
    for _ in range(count):
        signer, at = decode_uint(data, at)
        if signer in signers:
            raise InvalidSignature(f"signer {signer} appears twice in the envelope")
        if signer != 0:
            raise InvalidSignature(f"signer {signer} is not in the manifest (one signer)")
        signers.add(signer)
        raw, at = decode_fixed(data, at, SIGNATURE_BYTES)
        patch, at = decode_uint(data, at)
        if patch:
            raise InvalidSignature("patched signatures are not accepted (no allowPatch)")
        signatures.append(raw)
    patch_nodes, at = decode_uint(data, at)
    if patch_nodes or at != len(data):
        raise InvalidSignature("the signature envelope has trailing data")
    return signatures


def verify(keys: LogKeys, signature: bytes, tree_hash: bytes, length: int, fork: int) -> None:
    """Raise InvalidSignature unless SIGNATURE signs (tree_hash, length, fork) for KEYS."""
    message = signable(keys, tree_hash, length, fork)
    verifier = VerifyKey(keys.public_key)
    for raw in raw_signatures(keys, signature):
        try:
            verifier.verify(message, raw)
        except BadSignatureError as exc:
            raise InvalidSignature(
                f"signature does not verify for length {length}, fork {fork}"
            ) from exc
