"""Sealing the node's private keys at rest under the node master key (PyNaCl SecretBox).

A sealed value is one version byte, then SecretBox's nonce, ciphertext and MAC. Rotation: the
operator sets a new GROWR_MASTER_KEY and lists the old one in GROWR_MASTER_KEYS_PREVIOUS;
unsealing tries the current key first, and `manage.py reseal` seals every value anew under it,
after which the old key can be dropped.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.db import transaction
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

SEALED_V1 = b"\x01"
# Every column holding a sealed value, as (app label, model, field).
SEALED_FIELDS = (
    ("ledger", "Log", "sealed_secret_key"),
    ("discovery", "NodeIdentity", "sealed_seed"),
    ("identity", "Wallet", "sealed_key"),
)


class UnsealError(Exception):
    """The sealed value is damaged or was sealed under another master key."""


def seal(plaintext: bytes) -> bytes:
    return SEALED_V1 + bytes(SecretBox(settings.GROWR_MASTER_KEY).encrypt(plaintext))


def _master_keys() -> list[bytes]:
    return [settings.GROWR_MASTER_KEY, *getattr(settings, "GROWR_MASTER_KEYS_PREVIOUS", [])]


def _unseal_with(sealed: bytes) -> tuple[bytes, int]:
    """The plaintext and the position of the master key that opened it (0 is the current)."""
    sealed = bytes(sealed)
    if not sealed.startswith(SEALED_V1):
        raise UnsealError("unknown sealing version")
    for position, key in enumerate(_master_keys()):
        try:
            return SecretBox(key).decrypt(sealed[1:]), position
        except CryptoError:
            continue
    raise UnsealError("cannot unseal: wrong master key or damaged value")


def unseal(sealed: bytes) -> bytes:
    return _unseal_with(sealed)[0]


def reseal_all() -> dict[str, int]:
    """Seal anew under the current master key every value still sealed under a previous one.
    Returns how many values of each model moved. Safe to run again: values already under the
    current key are left alone."""
    moved: dict[str, int] = {}
    with transaction.atomic():
        for app_label, model_name, field in SEALED_FIELDS:
            model = apps.get_model(app_label, model_name)
            count = 0
            rows = model.objects.select_for_update().exclude(**{f"{field}__isnull": True})
            for row in rows.only("pk", field):
                sealed = bytes(getattr(row, field))
                if not sealed:
                    continue
                plaintext, position = _unseal_with(sealed)
                if position:
                    model.objects.filter(pk=row.pk).update(**{field: seal(plaintext)})
                    count += 1
            moved[f"{app_label}.{model_name}"] = count
    return moved
