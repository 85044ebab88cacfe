"""Ngozi rotates the node master key: every sealed private key (books, gossip, wallets) moves to
the new key with `manage.py reseal`, and nothing changes when a value opens under no key."""

from __future__ import annotations

import base64
import io
import os

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from apps.discovery.services import node_identity_start
from apps.identity import wallet_services
from apps.identity.models import Wallet
from apps.ledger.models import Book, Log
from apps.ledger.sealing import UnsealError, seal, unseal
from apps.ledger.services import log_for_book

NEW_KEY = os.urandom(32)


def _sealed_values() -> dict[str, bytes]:
    values = {f"log {log.book}": bytes(log.sealed_secret_key) for log in Log.objects.all()}
    values.update({f"wallet {w.did}": bytes(w.sealed_key) for w in Wallet.objects.all()})
    return values


@pytest.fixture
def sealed_under_the_old_key(wanjiru, kijani):
    wallet_services.wallet_of_user(user=wanjiru)
    wallet_services.wallet_of_organization(organization=kijani)
    log_for_book(book=Book.PROJECTS)
    node_identity_start()
    return _sealed_values()


def test_reseal_moves_every_key_to_the_new_master_key(settings, sealed_under_the_old_key, wanjiru):
    old_key = settings.GROWR_MASTER_KEY
    plaintexts = {name: unseal(value) for name, value in sealed_under_the_old_key.items()}

    with override_settings(GROWR_MASTER_KEY=NEW_KEY, GROWR_MASTER_KEYS_PREVIOUS=[old_key]):
        # Before the reseal the node still works: old values open with the previous key.
        wallet_services.custodial_key(wallet=Wallet.objects.get(user=wanjiru))
        first, again = io.StringIO(), io.StringIO()
        call_command("reseal", stdout=first)
        call_command("reseal", stdout=again)
        resealed = _sealed_values()

    assert "identity.Wallet: 2 resealed" in first.getvalue()
    assert "identity.Wallet: 0 resealed" in again.getvalue()
    assert resealed.keys() == plaintexts.keys()
    with override_settings(GROWR_MASTER_KEY=NEW_KEY, GROWR_MASTER_KEYS_PREVIOUS=[]):
        assert {name: unseal(value) for name, value in resealed.items()} == plaintexts
    with pytest.raises(UnsealError):
        unseal(next(iter(resealed.values())))  # the old key opens nothing any more


def test_reseal_changes_nothing_when_a_value_opens_under_no_key(settings, sealed_under_the_old_key):
    with (
        override_settings(GROWR_MASTER_KEY=NEW_KEY, GROWR_MASTER_KEYS_PREVIOUS=[]),
        pytest.raises(CommandError, match="GROWR_MASTER_KEYS_PREVIOUS"),
    ):
        call_command("reseal")

    assert _sealed_values() == sealed_under_the_old_key


def test_previous_keys_are_read_from_the_environment():
    from growr_site.settings.secrets import decode_previous_master_keys

    one, two = os.urandom(32), os.urandom(32)
    text = ",".join(base64.urlsafe_b64encode(k).decode() for k in (one, two))

    assert decode_previous_master_keys(text) == [one, two]
    assert decode_previous_master_keys(None) == []
    assert seal(b"x") != seal(b"x")  # a fresh nonce every time
