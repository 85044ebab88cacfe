"""Commitments signed by an investor's own node (apps/funding/remote.py), read and refused with
a reason, with no database: a forged or altered signature, another node's audience, an expired
or future-dated token, a malformed payload."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.funding.remote import InvalidCommitment, read_commitment, sign_commitment
from apps.identity.ssi.didkey import Ed25519Key, b64url_decode, b64url_encode
from apps.identity.ssi.jose import sign_jws

INES = Ed25519Key.generate()
PROJECT = uuid.uuid4()
NODE = "kijani.example:8000"
NOW = 1_790_000_000


def token(**changes) -> str:
    fields = {
        "key": INES, "project": PROJECT, "amount": Decimal("2500.00"), "currency": "KES",
        "request_id": "ines-node-0001", "audience": NODE, "now": NOW,
    } | changes  # fmt: skip
    return sign_commitment(**fields)


def test_a_signed_commitment_reads_back_with_its_investor():
    read = read_commitment(token(), audience=NODE, now=NOW + 5)
    assert read.investor_did == INES.did and read.project == PROJECT
    assert (read.amount, read.currency, read.request_id) == (Decimal("2500.00"), "KES",
                                                             "ines-node-0001")  # fmt: skip


def _tampered(text: str) -> str:
    header, payload, signature = text.split(".")
    body = b64url_decode(payload).replace(b"2500.00", b"9500.00")
    return ".".join((header, b64url_encode(body), signature))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: _tampered(token()), "signature"),
        (lambda: token(audience="other.example"), "meant for"),
        (lambda: token(now=NOW - 3600), "expired"),
        (lambda: token(now=NOW + 3600), "future"),
        (lambda: token(amount="12.5e3"), "decimal string"),
        (lambda: token(request_id="short"), "request id"),
        (lambda: token(currency="kes"), "ISO 4217"),
        (lambda: "not.a.jws", "base64url"),
        (lambda: 42, "string"),
    ],
)
def test_a_bad_commitment_is_refused_with_its_reason(make, reason):
    with pytest.raises(InvalidCommitment, match=reason):
        read_commitment(make(), audience=NODE, now=NOW)


def test_a_commitment_whose_kid_is_another_did_does_not_verify():
    header = {"kid": Ed25519Key.generate().verification_method, "typ": "growr-commitment+jwt"}
    payload = {"project": str(PROJECT), "amount": "1.00", "currency": "KES",
               "request_id": "abcdefgh", "aud": NODE, "iat": NOW, "exp": NOW + 60}  # fmt: skip
    with pytest.raises(InvalidCommitment, match="signature"):
        read_commitment(sign_jws(header=header, payload=payload, key=INES), audience=NODE, now=NOW)


def test_a_payload_with_extra_or_missing_fields_is_refused():
    header = {"kid": INES.verification_method, "typ": "growr-commitment+jwt"}
    payload = {"project": str(PROJECT), "amount": "1.00", "currency": "KES",
               "request_id": "abcdefgh", "aud": NODE, "iat": NOW, "exp": NOW + 60,
               "name": "Ines Duarte"}  # fmt: skip
    with pytest.raises(InvalidCommitment, match="exactly"):
        read_commitment(sign_jws(header=header, payload=payload, key=INES), audience=NODE, now=NOW)


@given(st.text(max_size=300) | st.binary(max_size=300) | st.none() | st.integers())
def test_any_garbage_is_refused_cleanly(garbage):
    with pytest.raises(InvalidCommitment):
        read_commitment(garbage, audience=NODE, now=NOW)


# --- the originator's endpoint ----------------------------------------------------------------


def _signed_for(of, key=INES, **changes):
    import time

    from apps.identity.credential_selectors import node_domain

    fields = {
        "key": key, "project": of.pk, "amount": Decimal("2500.00"),
        "currency": of.currency, "request_id": "ines-node-0001",
        "audience": node_domain(), "now": int(time.time()),
    } | changes  # fmt: skip
    return sign_commitment(**fields)


def test_an_investor_node_commits_with_a_signed_token_and_a_resend_is_the_same(goats, client):
    from apps.funding.models import Commitment
    from apps.ledger.services import log_for_book
    from tests.openapi import schema_errors

    token_ = _signed_for(goats)
    answer = client.post(
        "/api/remote-commitments/", {"token": token_}, content_type="application/json"
    )
    assert answer.status_code == 201, answer.content
    assert not schema_errors(client, "/api/remote-commitments/", answer, method="post")
    body = answer.json()
    assert body["investor"] == INES.did and body["amount"] == "2500.00"
    # The book that speaks for the commitment: this node's own funding book.
    assert body["funding_book"] == bytes(log_for_book(book="funding").key).hex()
    again = client.post(
        "/api/remote-commitments/", {"token": token_}, content_type="application/json"
    )
    assert again.status_code == 200 and again.json()["commitment"] == body["commitment"]
    commitment = Commitment.objects.get()
    assert commitment.investor is None and commitment.investor_did == INES.did


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"audience": "other.example"}, "token"),
        ({"currency": "UGX"}, "currency"),
        ({"amount": Decimal("10.00")}, "amount"),
        ({"project": uuid.uuid4()}, "project"),
    ],
)
def test_a_refused_remote_commitment_says_why_and_stores_nothing(goats, client, changes, field):
    from apps.funding.models import Commitment

    answer = client.post(
        "/api/remote-commitments/",
        {"token": _signed_for(goats, **changes)},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert field in answer.json()["error"]["fields"]
    assert not Commitment.objects.exists()


def test_a_tampered_token_is_refused(goats, client):
    answer = client.post(
        "/api/remote-commitments/",
        {"token": _tampered(_signed_for(goats))},
        content_type="application/json",
    )
    assert answer.status_code == 400 and "signature" in answer.json()["error"]["fields"]["token"][0]


# --- from the command-line wallet -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_investor_commits_from_her_command_line_wallet_with_no_account_there(
    live_server, settings, tmp_path, capsys, goats
):
    from apps.funding.models import Commitment
    from apps.identity.ssi.wallet_cli import main

    settings.GROWR_PUBLIC_URL = live_server.url
    wallet = tmp_path / "ines.json"
    assert main(["keygen", str(wallet)]) == 0
    did = capsys.readouterr().out.strip()
    argv = ["commit", str(wallet), "--node", live_server.url, "--project", str(goats.pk)]

    assert main([*argv, "--amount", "500.00"]) == 1
    assert "minimum ticket" in capsys.readouterr().err

    assert main([*argv, "--amount", "2500.00", "--request-id", "ines-cli-0001"]) == 0
    out = capsys.readouterr().out
    assert "committed 2500.00 KES to Dairy goats for Nakuru smallholders" in out
    assert main([*argv, "--amount", "2500.00", "--request-id", "ines-cli-0001"]) == 0
    commitment = Commitment.objects.get()
    assert (commitment.investor_did, commitment.amount) == (did, Decimal("2500.00"))
