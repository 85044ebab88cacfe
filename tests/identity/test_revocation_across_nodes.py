"""Umoja, an originator on another node, issued Wanjiru a land-size credential. Ngozi's node
trusts Umoja and follows its credential status book: the node accepts the credential once it
holds Umoja's list, and refuses it the moment a pulled list says Umoja revoked it, with no call
to Umoja's node."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.identity import credential_services, wallet_services
from apps.identity.models import TrustedIssuer
from apps.identity.ssi import credentials as vc
from apps.identity.ssi.credential_types import CREDENTIAL_TYPES
from apps.identity.ssi.didkey import Ed25519Key
from apps.identity.ssi.statuslist import Bitstring, StatusRef, sign_status_list
from apps.ledger.entries import canonical_json
from apps.ledger.follow_services import follow_index, follow_pull, follow_start
from tests.ledger.replica_sources import HonestSource, MemoryBook

pytestmark = pytest.mark.django_db
UMOJA_URL = "http://umoja.example"
UMOJA = Ed25519Key.generate()
INDEX = 4242


def _status_entry(*, seq: int, revoked: bool) -> bytes:
    bits = Bitstring()
    bits.set(INDEX, revoked)
    encoded = bits.encode()
    value = {
        "issuer": UMOJA.did,
        "list": 0,
        "purpose": "revocation",
        "encoded_list": encoded,
        "seq": seq,
        "signature": sign_status_list(
            key=UMOJA, list_number=0, purpose="revocation", encoded=encoded, seq=seq
        ),
    }
    entry = {"type": "growr/credential-status-list", "v": 2, "key": "status:umoja", "value": value}
    return canonical_json(entry)


@pytest.fixture
def umoja_book() -> MemoryBook:
    return MemoryBook(seed=b"umoja-credential-status".ljust(32, b"\0"))


@pytest.fixture
def land_credential(wanjiru) -> dict:
    TrustedIssuer.objects.create(did=UMOJA.did, label="Umoja Agri Credit")
    return vc.issue(
        credential_type=CREDENTIAL_TYPES["land_size"],
        issuer_key=UMOJA,
        holder_did=wallet_services.wallet_of_user(user=wanjiru).did,
        claims={"landSizeHectares": "2.5"},
        credential_id=f"urn:uuid:{uuid.uuid4()}",
        issued_at=timezone.now() - timedelta(days=1),
        expires_at=None,
        status=StatusRef(UMOJA.did, 0, INDEX),
    )


def _sync(follow, book: MemoryBook) -> None:
    follow_pull(follow_id=follow.pk, source_factory={UMOJA_URL: HonestSource(book)}.__getitem__)
    follow_index(follow_id=follow.pk)


def _present(wanjiru):
    challenge = credential_services.presentation_challenge_issue(
        user=wanjiru, request={"land_size": ["landSizeHectares"]}
    )
    record = wanjiru.credentials.get()
    envelope = credential_services.presentation_build_custodial(
        holder=wanjiru, nonce=challenge.nonce, credential_ids=[record.pk], disclose={}
    )
    return credential_services.presentation_verify(envelope=envelope, user=wanjiru)


def test_revocation_reaches_this_node_through_the_followed_status_book(
    wanjiru, umoja_book, land_credential
):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="cannot tell whether it is revoked"):
        credential_services.credential_import(holder=wanjiru, credential=land_credential)

    follow = follow_start(key=umoja_book.key, kind="credential_status", sources=[UMOJA_URL])
    umoja_book.append([_status_entry(seq=0, revoked=False)])
    _sync(follow, umoja_book)
    credential_services.credential_import(holder=wanjiru, credential=land_credential)
    assert _present(wanjiru).verified

    umoja_book.append([_status_entry(seq=1, revoked=True)])
    _sync(follow, umoja_book)

    refused = _present(wanjiru)
    assert (refused.verified, refused.failed_check) == (False, "revocation")
    # Umoja's book later serving its first list again does not bring the credential back.
    umoja_book.append([_status_entry(seq=0, revoked=False)])
    _sync(follow, umoja_book)
    assert _present(wanjiru).failed_check == "revocation"
