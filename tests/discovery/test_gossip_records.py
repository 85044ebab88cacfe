"""Signed node records and claims: what a node signs, every peer opens unchanged; anything
altered, misaddressed or forged is refused with a RecordError that says why."""

from __future__ import annotations

import contextlib
import hashlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.discovery.gossip import records
from apps.discovery.gossip.claims import BookAnnouncement, Role, Status
from apps.discovery.gossip.codec import signable
from apps.discovery.gossip.records import (
    CLAIM_DOMAIN,
    MAX_RECORD_BYTES,
    RECORD_DOMAIN,
    SIGNATURE_BYTES,
    NodeKey,
    RecordError,
    network_id_for,
    open_claim,
    open_record,
    sign_claim,
    sign_record,
)

NETWORK = network_id_for("growr-test")
OTHER_NETWORK = network_id_for("growr-elsewhere")
ALICE = NodeKey.from_seed(bytes(range(32)))
BOB = NodeKey.from_seed(bytes(range(32, 64)))
PROJECTS = BookAnnouncement(key=bytes(range(100, 132)), kind="projects", length=12)

# Offsets in the signed content, which starts with the version byte and the signer's key.
NODE_ID_AT = 1 + 32
CLAIM_STATUS_AT = 1 + 32 + 32


def alice_record(**changes):
    fields = {
        "network_id": NETWORK,
        "seq": 7,
        "role": Role.ORIGINATOR,
        "name": "Alice's cooperative",
        "url": "https://alice.example/",
        "gossip_host": "alice.example",
        "gossip_port": 7946,
        "books": [PROJECTS],
    }
    return sign_record(ALICE, **(fields | changes))


def resigned(raw: bytes, key: NodeKey, domain: bytes, edit) -> bytes:
    """RAW's content changed by EDIT and signed again by KEY: valid signature, bad content."""
    content = bytearray(raw[:-SIGNATURE_BYTES])
    edit(content)
    return bytes(content) + key.sign(domain, bytes(content))


labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
hosts = st.one_of(
    st.lists(labels, min_size=1, max_size=4).map(".".join),
    st.ip_addresses().map(str),
)
books = st.builds(
    BookAnnouncement,
    key=st.binary(min_size=32, max_size=32),
    kind=st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=32),
    length=st.integers(min_value=0, max_value=2**64 - 1),
)
record_fields = st.fixed_dictionaries(
    {
        "seq": st.integers(min_value=0, max_value=2**64 - 1),
        "role": st.sampled_from(Role),
        "name": st.text(min_size=1, max_size=16).filter(str.isprintable),
        "url": st.builds("{}://{}/{}".format, st.sampled_from(["http", "https"]), labels, labels),
        "gossip_host": hosts,
        "gossip_port": st.integers(min_value=1, max_value=65535),
        "books": st.lists(books, max_size=6, unique_by=lambda book: book.key),
    }
)


@given(record_fields)
def test_a_record_signed_by_a_node_opens_with_the_same_fields(fields):
    signed = sign_record(ALICE, network_id=NETWORK, **fields)

    opened = open_record(signed.raw, network_id=NETWORK)

    assert opened == signed
    assert opened.node_id == ALICE.node_id == hashlib.sha256(ALICE.public_key).digest()
    assert opened.books == tuple(fields["books"])


def test_a_node_key_restored_from_its_seed_signs_as_the_same_node():
    key = NodeKey.generate()
    restored = NodeKey.from_seed(key.seed)

    assert (restored.public_key, restored.node_id) == (key.public_key, key.node_id)
    assert len(key.node_id) == 32


@given(st.data())
def test_a_record_with_any_byte_flipped_is_refused(data):
    raw = alice_record().raw
    at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1), label="position")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="mask")
    flipped = raw[:at] + bytes([raw[at] ^ mask]) + raw[at + 1 :]

    with pytest.raises(RecordError):
        open_record(flipped, network_id=NETWORK)


def test_a_record_from_another_network_is_refused():
    raw = sign_record(
        ALICE,
        network_id=OTHER_NETWORK,
        seq=1,
        role=Role.INVESTOR,
        name="Alice",
        url="http://alice.example",
        gossip_host="10.0.0.1",
        gossip_port=7946,
        books=[],
    ).raw

    with pytest.raises(RecordError, match="another network"):
        open_record(raw, network_id=NETWORK)


def test_a_record_whose_node_id_is_not_the_hash_of_its_key_is_refused():
    def claim_to_be_bob(content):
        content[NODE_ID_AT : NODE_ID_AT + 32] = BOB.node_id

    raw = resigned(alice_record().raw, ALICE, RECORD_DOMAIN, claim_to_be_bob)

    with pytest.raises(RecordError, match="node id is not the SHA-256 of the public key"):
        open_record(raw, network_id=NETWORK)


def test_an_oversized_record_is_refused_before_any_signature_work(monkeypatch):
    def no_signature_work(*args):
        raise AssertionError("the signature was checked")

    monkeypatch.setattr(records, "signature_is_valid", no_signature_work)
    raw = alice_record().raw
    oversized = raw + bytes(MAX_RECORD_BYTES + 1 - len(raw))

    with pytest.raises(RecordError, match="1025 bytes is over the 1024-byte limit"):
        open_record(oversized, network_id=NETWORK)


def test_trailing_bytes_are_refused_even_under_a_valid_signature():
    raw = resigned(alice_record().raw, ALICE, RECORD_DOMAIN, lambda content: content.append(0))

    with pytest.raises(RecordError, match="1 trailing bytes"):
        open_record(raw, network_id=NETWORK)


def test_a_validly_signed_record_with_a_field_out_of_range_is_still_refused():
    def port_zero(content):
        content[-3:-1] = b"\x00\x00"  # the port, before the book count (no books)

    raw = resigned(alice_record(books=[]).raw, ALICE, RECORD_DOMAIN, port_zero)

    with pytest.raises(RecordError, match="gossip port 0"):
        open_record(raw, network_id=NETWORK)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"name": ""}, "name is 0 bytes"),
        ({"name": "é" * 33}, "name is 66 bytes"),
        ({"name": "Alice\nINFO forged log line"}, "control"),
        ({"url": "ftp://alice.example/"}, "not an http"),
        ({"url": "https:///no-host"}, "not an http"),
        ({"url": "https://alice.example/a b"}, "visible ASCII"),
        ({"url": "https://alice.example:99999/"}, "does not parse"),
        ({"url": "https://alice.example/" + "a" * 240}, "visible ASCII"),
        ({"gossip_host": "under_score.example"}, "not a host name"),
        ({"gossip_host": "fe80::1%eth0"}, "not a host name"),
        ({"gossip_host": ""}, "not a host name"),
        ({"gossip_port": 0}, "gossip port 0"),
        ({"gossip_port": 65536}, "gossip port 65536"),
        ({"seq": -1}, "seq -1"),
        ({"role": "lender"}, "role 'lender'"),
        ({"network_id": b"short"}, "network id is 32 bytes"),
        ({"books": [PROJECTS, PROJECTS]}, "same book twice"),
        ({"books": [BookAnnouncement(bytes(31), "projects", 1)]}, "book key is 32 bytes"),
        ({"books": [BookAnnouncement(bytes(32), "prøjects", 1)]}, "book kind"),
        ({"books": [BookAnnouncement(bytes(32), "k" * 33, 1)]}, "book kind"),
        ({"books": [BookAnnouncement(bytes([i]) * 32, "k", 1) for i in range(17)]}, "17 books"),
    ],
)
def test_a_node_cannot_sign_a_record_its_peers_would_refuse(changes, problem):
    with pytest.raises(RecordError, match=problem):
        alice_record(**changes)


def test_a_record_over_1024_bytes_cannot_be_signed():
    many_books = [BookAnnouncement(bytes([i]) * 32, "k" * 32, 1) for i in range(16)]

    with pytest.raises(RecordError, match=r"would be \d+ bytes, at most 1024"):
        alice_record(books=many_books)


@given(st.binary(max_size=MAX_RECORD_BYTES + 8))
def test_arbitrary_bytes_never_open_as_a_record_or_claim_and_never_crash(raw):
    with pytest.raises(RecordError):
        open_record(raw, network_id=NETWORK)
    with pytest.raises(RecordError):
        open_claim(raw, network_id=NETWORK)


@given(st.data())
def test_any_content_signed_by_its_own_key_opens_or_is_refused_but_never_crashes(data):
    """The parser after the signature check, fuzzed: a validly signed record with one byte
    changed, bytes inserted or the tail replaced."""
    content = bytearray(alice_record().raw[:-SIGNATURE_BYTES])
    at = data.draw(st.integers(min_value=NODE_ID_AT, max_value=len(content)), label="position")
    edit = data.draw(st.sampled_from(["change", "insert", "replace tail"]), label="edit")
    noise = data.draw(st.binary(min_size=1, max_size=64), label="noise")
    if edit == "change" and at < len(content):
        content[at] ^= noise[0]
    elif edit == "insert":
        content[at:at] = noise
    else:
        content[at:] = noise
    raw = bytes(content) + ALICE.sign(RECORD_DOMAIN, bytes(content))

    with contextlib.suppress(RecordError):
        open_record(raw, network_id=NETWORK)


# Claims.


@pytest.mark.parametrize("status", [Status.ALIVE, Status.LEFT])
def test_a_node_can_say_it_is_alive_or_leaving(status):
    claim = sign_claim(
        ALICE, network_id=NETWORK, status=status, subject=ALICE.node_id, incarnation=3
    )

    opened = open_claim(claim.raw, network_id=NETWORK)

    assert opened == claim
    assert (opened.status, opened.subject, opened.incarnation) == (status, ALICE.node_id, 3)
    assert opened.self_signed


@pytest.mark.parametrize("status", [Status.SUSPECT, Status.DEAD])
def test_a_suspicion_or_death_claim_opens_with_its_accuser(status):
    claim = sign_claim(BOB, network_id=NETWORK, status=status, subject=ALICE.node_id, incarnation=9)

    opened = open_claim(claim.raw, network_id=NETWORK)

    assert opened.accuser == BOB.node_id
    assert opened.subject == ALICE.node_id
    assert not opened.self_signed


@pytest.mark.parametrize("status", [Status.ALIVE, Status.LEFT])
def test_a_node_cannot_sign_that_another_node_is_alive_or_has_left(status):
    with pytest.raises(RecordError, match=f"only a node itself may say it is {status.name}"):
        sign_claim(BOB, network_id=NETWORK, status=status, subject=ALICE.node_id, incarnation=4)


@pytest.mark.parametrize("status", [Status.ALIVE, Status.LEFT])
def test_a_forged_alive_or_leave_about_a_node_is_refused_though_its_signature_is_valid(status):
    suspicion = sign_claim(
        BOB, network_id=NETWORK, status=Status.SUSPECT, subject=ALICE.node_id, incarnation=4
    )

    def say_alice_said_it(content):
        content[CLAIM_STATUS_AT] = status

    forged = resigned(suspicion.raw, BOB, CLAIM_DOMAIN, say_alice_said_it)

    with pytest.raises(RecordError, match=f"{status.name} claim about .* is signed by"):
        open_claim(forged, network_id=NETWORK)


def test_a_claim_from_another_network_is_refused():
    claim = sign_claim(
        ALICE, network_id=OTHER_NETWORK, status=Status.ALIVE, subject=ALICE.node_id, incarnation=1
    )

    with pytest.raises(RecordError, match="another network"):
        open_claim(claim.raw, network_id=NETWORK)


@given(st.data())
def test_a_claim_with_any_byte_flipped_is_refused(data):
    raw = sign_claim(
        BOB, network_id=NETWORK, status=Status.DEAD, subject=ALICE.node_id, incarnation=2
    ).raw
    at = data.draw(st.integers(min_value=0, max_value=len(raw) - 1), label="position")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="mask")

    with pytest.raises(RecordError):
        open_claim(raw[:at] + bytes([raw[at] ^ mask]) + raw[at + 1 :], network_id=NETWORK)


def test_a_claim_with_an_unknown_status_is_refused():
    claim = sign_claim(
        BOB, network_id=NETWORK, status=Status.DEAD, subject=ALICE.node_id, incarnation=2
    )

    def status_nine(content):
        content[CLAIM_STATUS_AT] = 9

    with pytest.raises(RecordError, match="unknown status code 9"):
        open_claim(resigned(claim.raw, BOB, CLAIM_DOMAIN, status_nine), network_id=NETWORK)


# Domain separation.


def test_a_record_signed_as_a_claim_does_not_open_as_a_record():
    raw = resigned(alice_record().raw, ALICE, CLAIM_DOMAIN, lambda content: None)

    with pytest.raises(RecordError, match="signature does not verify"):
        open_record(raw, network_id=NETWORK)


def test_a_claim_signed_as_a_record_does_not_open_as_a_claim():
    claim = sign_claim(
        ALICE, network_id=NETWORK, status=Status.ALIVE, subject=ALICE.node_id, incarnation=1
    )
    raw = resigned(claim.raw, ALICE, RECORD_DOMAIN, lambda content: None)

    with pytest.raises(RecordError, match="signature does not verify"):
        open_claim(raw, network_id=NETWORK)


def test_claims_and_records_cannot_stand_in_for_each_other():
    claim = sign_claim(
        ALICE, network_id=NETWORK, status=Status.ALIVE, subject=ALICE.node_id, incarnation=1
    )

    with pytest.raises(RecordError):
        open_record(claim.raw, network_id=NETWORK)
    with pytest.raises(RecordError):
        open_claim(alice_record().raw, network_id=NETWORK)


def test_no_bytes_can_shift_between_the_domain_and_the_content():
    assert signable(b"growr-claim", b"-v1" + b"x") != signable(b"growr-claim-v1", b"x")
