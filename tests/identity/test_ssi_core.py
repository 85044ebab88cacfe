"""The identity core on its own (no database): did:key, JWS parsing, status lists, SD-JWT and
presentation checks, with hypothesis for the encoders and parsers."""

from __future__ import annotations

import contextlib
import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.identity.ssi import credentials as vc
from apps.identity.ssi import sdjwt
from apps.identity.ssi.credential_types import CREDENTIAL_TYPES
from apps.identity.ssi.didkey import (
    Ed25519Key,
    InvalidDid,
    b58decode,
    b58encode,
    b64url_decode,
    b64url_encode,
    did_from_public_key,
    public_key_from_did,
    verify_signature,
)
from apps.identity.ssi.jose import InvalidJws, parse_jws, sign_jws
from apps.identity.ssi.presentation import build_presentation, verify_presentation
from apps.identity.ssi.statuslist import (
    LIST_BITS,
    Bitstring,
    InvalidStatusList,
    StatusRef,
    sign_status_list,
    status_list_signature_valid,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@given(st.binary(max_size=64))
def test_base58_round_trips(data):
    assert b58decode(b58encode(data)) == data


def test_did_key_matches_the_w3c_test_vector():
    # did:key spec, Ed25519 example: this public key is this DID.
    public = bytes.fromhex("2e6fcce36701dc791488e0d0b1745cc1e33a4c1c9fcc41c63bd343dbbe0970e6")
    assert did_from_public_key(public) == "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"


@given(st.text(max_size=80))
def test_any_string_is_either_a_did_key_or_refused_cleanly(text):
    with contextlib.suppress(InvalidDid):
        assert len(public_key_from_did(text)) == 32


def test_signatures_verify_only_for_their_did_and_message():
    key, other = Ed25519Key.generate(), Ed25519Key.generate()
    signature = key.sign(b"hello")
    assert verify_signature(did=key.did, message=b"hello", signature=signature)
    assert not verify_signature(did=other.did, message=b"hello", signature=signature)
    assert not verify_signature(did=key.did, message=b"hellO", signature=signature)
    assert "seed" not in repr(key) and key.did in repr(key)


def test_a_jwk_round_trips_and_a_mismatched_one_is_refused():
    key = Ed25519Key.generate()
    assert Ed25519Key.from_jwk(key.private_jwk()) == key
    with pytest.raises(ValueError, match="does not match"):
        Ed25519Key.from_jwk({**key.private_jwk(), "x": Ed25519Key.generate().private_jwk()["x"]})


def test_a_jws_round_trips():
    key = Ed25519Key.generate()
    token = sign_jws(header={"kid": key.verification_method}, payload={"a": 1}, key=key)
    parsed = parse_jws(token)
    assert parsed.payload == {"a": 1} and parsed.verify_with(key.public_key)


@given(st.text(max_size=300))
def test_the_jws_parser_refuses_garbage_with_its_own_error(text):
    with contextlib.suppress(InvalidJws):
        parse_jws(text)


@pytest.mark.parametrize(
    "header",
    [{"alg": "none"}, {"alg": "HS256"}, {"alg": "ES256"}, {}],
)
def test_only_eddsa_is_accepted(header):
    key = Ed25519Key.generate()
    token = sign_jws(header={}, payload={}, key=key)
    segment = b64url_encode(json.dumps(header).encode())
    with pytest.raises(InvalidJws, match="EdDSA"):
        parse_jws(segment + token[token.index(".") :])


@given(st.sets(st.integers(min_value=0, max_value=LIST_BITS - 1), max_size=50))
def test_a_status_list_round_trips(revoked):
    bits = Bitstring()
    for index in revoked:
        bits.set(index, True)
    decoded = Bitstring.decode(bits.encode())
    assert {i for i in revoked if decoded[i]} == revoked
    assert decoded.to_bytes() == bits.to_bytes()


def test_bit_zero_is_the_most_significant_bit_of_the_first_byte():
    bits = Bitstring()
    bits.set(0, True)
    assert bits.to_bytes()[0] == 0x80


@pytest.mark.parametrize(
    "payload",
    [
        gzip.compress(b"\0" * 100),  # too short
        gzip.compress(b"\0" * (LIST_BITS // 8 + 1)),  # too long
        gzip.compress(b"\0" * 50_000_000),  # a bomb: refused after one list's worth
        b"not gzip at all",
    ],
    # Named, not shown: gzip stamps the time, and pytest-xdist's workers must collect one name.
    ids=["too short", "too long", "a bomb", "not gzip"],
)
def test_a_wrong_status_list_is_refused(payload):
    with pytest.raises(InvalidStatusList):
        Bitstring.decode(b64url_encode(payload))


def test_a_status_list_signature_binds_issuer_list_and_seq():
    key = Ed25519Key.generate()
    encoded = Bitstring().encode()
    signature = sign_status_list(
        key=key, list_number=3, purpose="revocation", encoded=encoded, seq=9
    )
    fields = dict(issuer=key.did, list_number=3, purpose="revocation", encoded=encoded, seq=9)
    assert status_list_signature_valid(**fields, signature=signature)
    assert not status_list_signature_valid(**{**fields, "seq": 8}, signature=signature)
    assert not status_list_signature_valid(**{**fields, "list_number": 4}, signature=signature)
    other = Ed25519Key.generate().did
    assert not status_list_signature_valid(**{**fields, "issuer": other}, signature=signature)


@pytest.fixture(scope="module")
def people():
    return {"kijani": Ed25519Key.generate(), "wanjiru": Ed25519Key.generate()}


def _issue(people, slug, claims, *, status=None, issued_at=NOW - timedelta(days=1)):
    return vc.issue(
        credential_type=CREDENTIAL_TYPES[slug],
        issuer_key=people["kijani"],
        holder_did=people["wanjiru"].did,
        claims=claims,
        credential_id=f"urn:uuid:{slug}-1",
        issued_at=issued_at,
        expires_at=None,
        status=status,
    )


KYC = {
    "given_name": "Wanjiru",
    "family_name": "Kamau",
    "birthdate": "1990-02-03",
    "nationality": "KE",
    "address": "Plot 12, Nakuru",
    "id_number": "23456789",
}


def test_an_sd_jwt_presentation_shows_only_the_chosen_claims(people):
    issued = _issue(people, "kyc", KYC)
    shown = sdjwt.present_sd_jwt(
        issuance=issued,
        disclose=["nationality"],
        holder_key=people["wanjiru"],
        nonce="n",
        audience="node.example",
    )
    credential = vc.read_sd_jwt(shown, nonce="n", audience="node.example")
    assert credential.claims == {"nationality": "KE"}
    assert credential.holder == people["wanjiru"].did
    for wrong in [{"nonce": "m", "audience": "node.example"}, {"nonce": "n", "audience": "x"}]:
        with pytest.raises(vc.CheckFailed) as refused:
            vc.read_sd_jwt(shown, **wrong)
        assert refused.value.check == "signature"


def test_an_sd_jwt_without_key_binding_is_refused_where_binding_is_asked(people):
    issued = _issue(people, "kyc", KYC)
    with pytest.raises(vc.CheckFailed):
        vc.read_sd_jwt(issued, nonce="n", audience="node.example")


def test_an_sd_jwt_signed_by_someone_else_than_its_issuer_is_refused(people):
    issued = _issue(people, "kyc", KYC)
    header, payload, _ = issued.split("~")[0].split(".")
    body = json.loads(b64url_decode(payload))
    body["iss"] = Ed25519Key.generate().did
    forged = ".".join([header, b64url_encode(json.dumps(body).encode()), _])
    with pytest.raises(vc.CheckFailed) as refused:
        vc.read_sd_jwt(issued.replace(issued.split("~")[0], forged))
    assert refused.value.check == "signature"


def _context(people, *, trusted=True, revoked=frozenset(), now=NOW):
    return vc.TrustContext(
        now=now,
        is_trusted_issuer=lambda did: trusted and did == people["kijani"].did,
        status_bit=lambda ref: ref.index in revoked,
    )


def test_a_presentation_passes_every_check_and_names_the_one_that_fails(people):
    age = _issue(
        people, "age", {"birthDate": "1990-02-03"}, status=StatusRef(people["kijani"].did, 0, 5)
    )
    envelope = build_presentation(
        holder_key=people["wanjiru"],
        ldp_documents=[age],
        sd_jwt_disclosures=[(_issue(people, "kyc", KYC), ["nationality"])],
        challenge="c",
        domain="node.example",
    )
    verify = lambda **kw: verify_presentation(envelope, challenge="c", domain="node.example", **kw)  # noqa: E731

    verified = verify(
        context=_context(people), request={"age": ["birthDate"], "kyc": ["nationality"]}
    )
    assert verified.holder == people["wanjiru"].did

    for context, check in [
        (_context(people, trusted=False), "issuer_trust"),
        (_context(people, revoked={5}), "revocation"),
        (_context(people, now=NOW - timedelta(days=2)), "validity"),
    ]:
        with pytest.raises(vc.CheckFailed) as refused:
            verify(context=context)
        assert refused.value.check == check


def test_credential_contexts_other_than_growrs_are_refused(people):
    # JSON-LD drops terms its context does not define: a credential with another context could
    # carry claims its proof does not sign, so only the Growr context is read.
    age = _issue(people, "age", {"birthDate": "1990-02-03"})
    age["@context"] = ["https://www.w3.org/2018/credentials/v1"]
    with pytest.raises(vc.CheckFailed, match="@context"):
        vc.read_ldp(age)


def test_a_credential_signed_by_a_key_other_than_its_issuers_is_refused(people):
    impostor = Ed25519Key.generate()
    document = vc.issue(
        credential_type=CREDENTIAL_TYPES["age"],
        issuer_key=impostor,
        holder_did=people["wanjiru"].did,
        claims={"birthDate": "1990-02-03"},
        credential_id="urn:uuid:impostor",
        issued_at=NOW,
        expires_at=None,
        status=None,
    )
    document["issuer"] = people["kijani"].did  # claims Kijani issued it

    with pytest.raises(vc.CheckFailed) as refused:
        vc.read_any(document)
    assert refused.value.check == "signature"


@pytest.mark.parametrize(
    ("slug", "claims"),
    [
        ("land_size", {"landSizeHectares": "2.5\n"}),
        ("age", {"birthDate": "1990-02-03\n"}),
        ("monthly_income", {"monthlyIncome": {"amount": "300\n", "currency": "KES"}}),
    ],
)
def test_a_claim_with_a_trailing_newline_breaks_its_schema(slug, claims):
    assert CREDENTIAL_TYPES[slug].claim_errors(claims)
