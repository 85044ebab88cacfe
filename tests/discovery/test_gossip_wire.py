"""Frames and message bodies: every message survives the wire unchanged; whatever else a peer
sends is refused with a WireError, sizes from the header before any body is read."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.discovery.gossip.claims import Role, Status
from apps.discovery.gossip.codec import uint
from apps.discovery.gossip.records import (
    CLAIM_BYTES,
    MAX_RECORD_BYTES,
    NodeKey,
    network_id_for,
    sign_claim,
    sign_record,
)
from apps.discovery.gossip.wire import (
    MAX_UPDATES,
    MESSAGE_TYPES,
    Ack,
    ConnectionClosed,
    DigestEntry,
    Err,
    Frame,
    FrameType,
    Gossip,
    Hello,
    HelloAck,
    HelloFin,
    Nack,
    Peers,
    PeersReq,
    Ping,
    PingReq,
    Sync,
    SyncAck,
    SyncDeltas,
    UnexpectedFrame,
    Update,
    UpdateKind,
    WireError,
    digest_hash,
    encode_frame,
    frame_of,
    message_of,
    new_nonce,
    read_frame,
    sign_hello_ack,
    verify_hello_ack,
)

NETWORK = network_id_for("growr-test")
ALICE = NodeKey.from_seed(bytes(range(32)))
BOB = NodeKey.from_seed(bytes(range(32, 64)))


def header(length: int, frame_type: int, flags: int = 0) -> bytes:
    return uint(length, 4) + uint(frame_type, 1) + uint(flags, 1)


def stream(*chunks: bytes, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()
    return reader


def read_all(data: bytes) -> Frame:
    """The frame in DATA, read as from a socket (for synchronous hypothesis tests)."""

    async def read() -> Frame:
        return await read_frame(stream(data), timeout=1)

    return asyncio.run(read())


# Strategies: one per message type. Raw claims and records are opaque bytes to the codec.

u32s = st.integers(min_value=0, max_value=2**32 - 1)
u64s = st.integers(min_value=0, max_value=2**64 - 1)
ids = st.binary(min_size=32, max_size=32)
nonces = ids
raw_records = st.binary(min_size=1, max_size=MAX_RECORD_BYTES)
updates = st.one_of(
    st.builds(
        Update, st.just(UpdateKind.CLAIM), st.binary(min_size=CLAIM_BYTES, max_size=CLAIM_BYTES)
    ),
    st.builds(Update, st.just(UpdateKind.RECORD), st.binary(min_size=1, max_size=300)),
)
update_lists = st.lists(updates, max_size=5).map(tuple)
labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
hosts = st.one_of(
    st.lists(labels, min_size=1, max_size=4).map(".".join), st.ip_addresses().map(str)
)
entries = st.builds(DigestEntry, ids, u64s, u64s)

messages = {
    Hello: st.builds(
        Hello,
        network_id=ids,
        wire_version=st.integers(min_value=0, max_value=0xFFFF),
        nonce=nonces,
        record=raw_records,
    ),
    HelloAck: st.builds(
        HelloAck, nonce=nonces, signature=st.binary(min_size=64, max_size=64), record=raw_records
    ),
    Ping: st.builds(Ping, seq_no=u32s, target=ids, piggyback=update_lists),
    Ack: st.builds(Ack, seq_no=u32s, piggyback=update_lists),
    PingReq: st.builds(
        PingReq, seq_no=u32s, target=ids, host=hosts, port=st.integers(min_value=1, max_value=65535)
    ),
    Nack: st.builds(Nack, seq_no=u32s),
    Gossip: st.builds(Gossip, updates=update_lists),
    Sync: st.builds(
        Sync.of,
        st.lists(entries, max_size=8, unique_by=lambda entry: entry.node_id),
        with_digest=st.booleans(),
    ),
    SyncAck: st.builds(SyncAck, want=st.lists(ids, max_size=8).map(tuple), deltas=update_lists),
    SyncDeltas: st.builds(SyncDeltas, deltas=update_lists),
    PeersReq: st.builds(PeersReq, max_records=st.integers(min_value=1, max_value=16)),
    Peers: st.builds(Peers, records=st.lists(raw_records, max_size=16).map(tuple)),
    Err: st.builds(
        Err,
        code=st.integers(min_value=0, max_value=0xFFFF),
        message=st.text(max_size=50).filter(str.isprintable),
    ),
    HelloFin: st.builds(HelloFin, signature=st.binary(min_size=64, max_size=64)),
}
any_message = st.one_of(*messages.values())


def test_every_frame_type_has_a_message():
    assert set(MESSAGE_TYPES) == set(FrameType)
    assert set(messages) == set(MESSAGE_TYPES.values())


@pytest.mark.parametrize("message_type", list(messages), ids=lambda t: t.__name__)
@given(data=st.data())
def test_every_message_decodes_to_what_was_encoded(message_type, data):
    message = data.draw(messages[message_type])

    assert message_type.decode(message.encode()) == message


@given(any_message)
@settings(max_examples=200)
def test_every_message_crosses_the_wire_unchanged(message):
    frame = read_all(encode_frame(frame_of(message)))

    assert frame.frame_type is message.FRAME_TYPE
    assert message_of(frame) == message


@pytest.mark.parametrize("message_type", list(messages), ids=lambda t: t.__name__)
@given(body=st.binary(max_size=2048))
def test_arbitrary_bytes_to_any_decoder_raise_only_wire_errors(message_type, body):
    with contextlib.suppress(WireError):
        message_type.decode(body)


@pytest.mark.parametrize("message_type", list(messages), ids=lambda t: t.__name__)
@given(data=st.data())
def test_damaged_messages_raise_only_wire_errors(message_type, data):
    body = bytearray(data.draw(messages[message_type]).encode())
    at = data.draw(st.integers(min_value=0, max_value=len(body)), label="position")
    noise = data.draw(st.binary(min_size=1, max_size=8), label="noise")
    edit = data.draw(st.sampled_from(["change", "insert", "cut"]), label="edit")
    if edit == "change" and at < len(body):
        body[at] ^= noise[0]
    elif edit == "insert":
        body[at:at] = noise
    else:
        del body[at:]

    with contextlib.suppress(WireError):
        message_type.decode(bytes(body))


@given(st.binary(max_size=64))
def test_arbitrary_bytes_on_the_stream_raise_only_wire_errors(data):
    with contextlib.suppress(WireError):
        read_all(data)


# Reading frames.


async def test_a_frame_announcing_2_gib_is_refused_from_its_header_alone():
    reader = stream(header(2**31, FrameType.SYNC_DELTAS), eof=False)

    with pytest.raises(WireError, match="announces length 2147483648, over its limit of 1048576"):
        await read_frame(reader, timeout=5)


async def test_a_handshake_read_refuses_any_other_type_from_its_header_alone():
    reader = stream(header(1024 * 1024, FrameType.SYNC), eof=False)

    with pytest.raises(UnexpectedFrame, match="a SYNC frame where it does not belong"):
        await read_frame(reader, timeout=5, expect=(FrameType.HELLO,))


async def test_gossip_frames_are_held_to_64_kib_and_sync_frames_to_1_mib():
    with pytest.raises(WireError, match="GOSSIP frame announces length 65537"):
        await read_frame(stream(header(64 * 1024 + 1, FrameType.GOSSIP), eof=False), timeout=5)

    frame = await read_frame(
        stream(header(64 * 1024 + 1, FrameType.SYNC), bytes(64 * 1024 - 1)), timeout=5
    )
    assert len(frame.body) == 64 * 1024 - 1


@pytest.mark.parametrize("frame_type", [0, 15, 255])
async def test_an_unknown_frame_type_is_refused(frame_type):
    with pytest.raises(WireError, match=f"unknown frame type {frame_type}"):
        await read_frame(stream(header(6, frame_type) + bytes(4)), timeout=5)


@pytest.mark.parametrize("length", [0, 1])
async def test_a_frame_too_short_for_its_type_and_flags_is_refused(length):
    with pytest.raises(WireError, match=f"frame length {length} is shorter"):
        await read_frame(stream(header(length, FrameType.PING)), timeout=5)


async def test_reserved_flags_are_refused():
    with pytest.raises(WireError, match="flags 0x01 are reserved"):
        await read_frame(stream(header(6, FrameType.NACK, flags=1) + bytes(4)), timeout=5)


async def test_a_silent_peer_runs_into_the_read_timeout():
    with pytest.raises(WireError, match=r"no complete frame within the 0\.01 s read timeout"):
        await read_frame(stream(eof=False), timeout=0.01)


async def test_a_peer_trickling_a_frame_runs_into_the_same_timeout():
    reader = stream(header(6, FrameType.NACK) + b"\x00", eof=False)

    with pytest.raises(WireError, match="read timeout"):
        await read_frame(reader, timeout=0.01)


async def test_a_frame_split_into_many_small_chunks_still_reads():
    ping = Ping(seq_no=5, target=BOB.node_id, piggyback=(Update.of(alive_claim()),))
    data = encode_frame(frame_of(ping))
    reader = asyncio.StreamReader()

    async def trickle():
        for at in range(0, len(data), 3):
            reader.feed_data(data[at : at + 3])
            await asyncio.sleep(0)

    feeding = asyncio.create_task(trickle())
    frame = await read_frame(reader, timeout=5)
    await feeding

    assert message_of(frame) == ping


async def test_frames_follow_each_other_on_one_stream():
    reader = stream(encode_frame(frame_of(Nack(1))), encode_frame(frame_of(Nack(2))))

    assert message_of(await read_frame(reader, timeout=1)) == Nack(1)
    assert message_of(await read_frame(reader, timeout=1)) == Nack(2)
    with pytest.raises(ConnectionClosed):
        await read_frame(reader, timeout=1)


async def test_a_connection_closed_inside_a_frame_is_a_protocol_error_not_a_close():
    data = encode_frame(frame_of(Nack(1)))

    with pytest.raises(WireError, match="in the middle of a frame") as refused:
        await read_frame(stream(data[:-1]), timeout=1)
    assert not isinstance(refused.value, ConnectionClosed)


def test_a_message_too_big_for_its_frame_is_refused_before_it_is_sent():
    full_records = tuple(Update(UpdateKind.RECORD, bytes(MAX_RECORD_BYTES)) for _ in range(64))

    with pytest.raises(WireError, match=r"GOSSIP frame of length \d+ is over its limit of 65536"):
        encode_frame(frame_of(Gossip(full_records)))


# Message rules.


def alive_claim():
    return sign_claim(
        ALICE, network_id=NETWORK, status=Status.ALIVE, subject=ALICE.node_id, incarnation=1
    )


def test_gossip_carries_at_most_64_updates_either_way():
    claim = Update.of(alive_claim())
    body = Gossip((claim,) * MAX_UPDATES).encode()
    too_many = uint(MAX_UPDATES + 1, 2) + body[2:] + body[2 : 2 + 3 + CLAIM_BYTES]

    assert len(Gossip.decode(body).updates) == MAX_UPDATES
    with pytest.raises(WireError, match="65 gossiped updates is more than the 64 allowed"):
        Gossip((claim,) * (MAX_UPDATES + 1))
    with pytest.raises(WireError, match="65 gossiped updates"):
        Gossip.decode(too_many)


def test_updates_carry_signed_claims_and_records_that_open_after_the_trip():
    record = sign_record(
        ALICE,
        network_id=NETWORK,
        seq=1,
        role=Role.INVESTOR,
        name="Alice",
        url="https://alice.example",
        gossip_host="alice.example",
        gossip_port=7946,
        books=[],
    )
    gossip = Gossip((Update.of(alive_claim()), Update.of(record)))

    received = Gossip.decode(gossip.encode())

    assert [update.open(network_id=NETWORK) for update in received.updates] == [
        alive_claim(),
        record,
    ]


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda: Update(UpdateKind.CLAIM, bytes(CLAIM_BYTES - 1)), "a claim is 170 bytes"),
        (lambda: Update(UpdateKind.RECORD, bytes(MAX_RECORD_BYTES + 1)), "node record is 1 to"),
        (lambda: Ping(seq_no=2**32, target=bytes(32)), "seq_no 4294967296"),
        (lambda: Ping(seq_no=1, target=bytes(31)), "target node id is 32 bytes"),
        (lambda: PingReq(seq_no=1, target=bytes(32), host="a b", port=1), "not a host name"),
        (lambda: PingReq(seq_no=1, target=bytes(32), host="a.example", port=0), "port 0"),
        (lambda: PeersReq(0), "asks for 0 records"),
        (lambda: PeersReq(17), "asks for 17 records"),
        (lambda: Peers((bytes(10),) * 17), "17 peer records"),
        (lambda: Err(1, "x" * 201), "at most 200 UTF-8 bytes"),
        (lambda: Err(1, "é" * 101), "at most 200 UTF-8 bytes"),
        (lambda: Err(1, "bad\r\nforged"), "control"),
        (lambda: Hello(NETWORK, 1, bytes(31), bytes(10)), "nonce is 32 bytes"),
        (lambda: Sync(bytes(32), (DigestEntry(bytes(32), 0, 0),)), "does not hash"),
    ],
)
def test_messages_break_no_rule_even_before_they_are_sent(make, problem):
    with pytest.raises(WireError, match=problem):
        make()


def test_an_unknown_update_kind_is_refused():
    body = uint(1, 2) + uint(3, 1) + uint(1, 2) + b"x"

    with pytest.raises(WireError, match="unknown update kind 3"):
        SyncDeltas.decode(body)


def test_trailing_bytes_after_a_message_are_refused():
    with pytest.raises(WireError, match="NACK body refused: 1 trailing bytes"):
        Nack.decode(Nack(7).encode() + b"\x00")


def test_a_truncated_message_names_the_missing_field():
    with pytest.raises(WireError, match="PING body refused: target needs 32 bytes at byte 4"):
        Ping.decode(uint(1, 4) + bytes(10))


# Anti-entropy digests.


@given(st.lists(entries, max_size=10, unique_by=lambda entry: entry.node_id), st.randoms())
def test_the_digest_hash_does_not_depend_on_the_order_of_entries(digest, random):
    shuffled = list(digest)
    random.shuffle(shuffled)

    assert digest_hash(shuffled) == digest_hash(digest)


def test_the_digest_hash_changes_when_any_member_moves_on():
    digest = [(bytes([i]) * 32, 1, 1) for i in range(5)]

    assert digest_hash(digest) != digest_hash([*digest[:4], (bytes([4]) * 32, 2, 1)])
    assert digest_hash(digest) != digest_hash([*digest[:4], (bytes([4]) * 32, 1, 2)])


def test_a_digest_must_be_sorted_with_each_node_once():
    first, second = DigestEntry(bytes(32), 1, 1), DigestEntry(b"\x01" * 32, 1, 1)

    for digest in [(second, first), (first, first)]:
        with pytest.raises(WireError, match="sorted by node id, each node once"):
            Sync(digest_hash(digest), digest)


def test_a_sync_without_its_digest_sends_only_the_hash():
    sync = Sync.of([(bytes(32), 1, 1)], with_digest=False)

    assert sync.digest is None
    assert len(sync.encode()) == 33


# The handshake.


def test_a_hello_ack_proves_the_answering_node_holds_its_key():
    hello = Hello(NETWORK, 1, new_nonce(), bytes(1))
    ack_nonce = new_nonce()
    ack = HelloAck(
        nonce=ack_nonce,
        signature=sign_hello_ack(
            BOB, network_id=NETWORK, their_nonce=hello.nonce, own_nonce=ack_nonce
        ),
        record=bytes(1),
    )

    verify_hello_ack(BOB.public_key, network_id=NETWORK, hello_nonce=hello.nonce, ack=ack)


@pytest.mark.parametrize("mismatch", ["other key", "other network", "other hello", "replayed ack"])
def test_a_hello_ack_for_another_key_network_or_hello_is_refused(mismatch):
    hello_nonce, ack_nonce = new_nonce(), new_nonce()
    signature = sign_hello_ack(
        BOB, network_id=NETWORK, their_nonce=hello_nonce, own_nonce=ack_nonce
    )
    ack = HelloAck(nonce=ack_nonce, signature=signature, record=bytes(1))
    public_key, network_id = BOB.public_key, NETWORK
    if mismatch == "other key":
        public_key = ALICE.public_key
    elif mismatch == "other network":
        network_id = network_id_for("growr-elsewhere")
    elif mismatch == "other hello":
        hello_nonce = new_nonce()
    else:
        ack = HelloAck(nonce=new_nonce(), signature=signature, record=bytes(1))

    with pytest.raises(WireError, match="the peer did not prove its key"):
        verify_hello_ack(public_key, network_id=network_id, hello_nonce=hello_nonce, ack=ack)


def test_a_nonce_is_fresh_every_time():
    assert len({new_nonce() for _ in range(100)}) == 100
    assert len(new_nonce()) == 32
