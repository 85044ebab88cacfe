"""Sealing the node's private keys at rest under the node master key (PyNaCl SecretBox).

A sealed value is one version byte, then SecretBox's nonce, ciphertext and MAC. The version byte
leaves room for master-key rotation: a new key gets a new version, and unsealing picks by it.
"""

from __future__ import annotations

from django.conf import settings
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

SEALED_V1 = b"\x01"


class UnsealError(Exception):
    """The sealed value is damaged or was sealed under another master key."""


def seal(plaintext: bytes) -> bytes:
    return SEALED_V1 + bytes(SecretBox(settings.GROWR_MASTER_KEY).encrypt(plaintext))


def unseal(sealed: bytes) -> bytes:
    sealed = bytes(sealed)
    if not sealed.startswith(SEALED_V1):
        raise UnsealError("unknown sealing version")
    try:
        return SecretBox(settings.GROWR_MASTER_KEY).decrypt(sealed[1:])
    except CryptoError as exc:
        raise UnsealError("cannot unseal: wrong master key or damaged value") from exc
