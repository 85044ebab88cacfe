"""Revocation checked from the credential status books alone, as a node that is not the issuer's
does: only the issuer's signature counts, and an old list cannot undo a revocation."""

from __future__ import annotations

import pytest

from apps.identity.credential_selectors import status_key, status_lookup
from apps.identity.ssi.didkey import Ed25519Key
from apps.identity.ssi.statuslist import Bitstring, StatusRef, sign_status_list
from apps.ledger.entries import canonical_json
from apps.ledger.models import Book
from apps.ledger.services import book_publish, log_append, log_for_book, outbox_flush
from apps.ledger.storage import index_add

UMOJA = Ed25519Key.generate()  # an issuer on another node


def _publish(*, revoked: set[int], seq: int, signer: Ed25519Key = UMOJA) -> None:
    bits = Bitstring()
    for index in revoked:
        bits.set(index, True)
    encoded = bits.encode()
    book_publish(
        book=Book.CREDENTIAL_STATUS,
        entry_type="growr/credential-status-list",
        version=2,
        key=status_key(issuer=UMOJA.did, number=0, purpose="revocation"),
        value={
            "issuer": UMOJA.did,
            "list": 0,
            "purpose": "revocation",
            "encoded_list": encoded,
            "seq": seq,
            "signature": sign_status_list(
                key=signer, list_number=0, purpose="revocation", encoded=encoded, seq=seq
            ),
        },
    )
    outbox_flush(book=Book.CREDENTIAL_STATUS)


def _bit(index: int) -> bool | None:
    ref = StatusRef(UMOJA.did, 0, index)
    return status_lookup([ref])(ref)


def test_a_list_nobody_published_is_unknown(db):
    assert _bit(7) is None


def test_the_issuers_list_from_the_book_says_which_credentials_are_revoked(db):
    _publish(revoked={7}, seq=1)

    assert _bit(7) is True
    assert _bit(8) is False


def test_a_list_signed_by_someone_else_is_ignored(db):
    _publish(revoked=set(), seq=5, signer=Ed25519Key.generate())

    assert _bit(7) is None


def test_an_older_list_served_later_cannot_undo_a_revocation(db):
    _publish(revoked={7}, seq=2)
    _publish(revoked=set(), seq=1)  # a replay: the book's latest entry is now the older list

    assert _bit(7) is True


@pytest.mark.parametrize("seq", [-1, "3", 2**70, True])
def test_a_signed_list_of_the_wrong_shape_is_passed_over_without_breaking_the_index(db, seq):
    # Followed books are not checked against the entry schemas, and an issuer can sign anything:
    # indexing such a block goes on, and the list stays unknown.
    encoded = Bitstring().encode()
    signature = sign_status_list(
        key=UMOJA, list_number=0, purpose="revocation", encoded=encoded, seq=seq
    )
    value = {
        "issuer": UMOJA.did,
        "list": 0,
        "purpose": "revocation",
        "encoded_list": encoded,
        "seq": seq,
        "signature": signature,
    }
    block = canonical_json(
        {"type": "growr/credential-status-list", "v": 2, "key": "status:x", "value": value}
    )
    log = log_for_book(book=Book.CREDENTIAL_STATUS)
    log_append(log=log, blocks=[block])

    index_add(log_id=log.pk, rows=[(0, "status:x", "growr/credential-status-list", False)])

    assert _bit(7) is None
