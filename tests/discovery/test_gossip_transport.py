"""The TCP transport: nodes that prove their keys exchange messages over pooled connections;
callers from another network, callers that cannot prove their key, and raw sockets sending
garbage are turned away and counted, and the server keeps serving everyone else."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.discovery.gossip.claims import NodeRecord, Role
from apps.discovery.gossip.codec import uint
from apps.discovery.gossip.records import MAX_RECORD_BYTES, NodeKey, network_id_for, sign_record
from apps.discovery.gossip.transport import (
    Deliver,
    ErrCode,
    Limits,
    Reason,
    TokenBuckets,
    Transport,
    address_block,
    source_ip,
)
from apps.discovery.gossip.wire import (
    HELLO_ACK_DOMAIN,
    WIRE_VERSION,
    Err,
    FrameType,
    Gossip,
    Hello,
    HelloAck,
    HelloFin,
    Message,
    Nack,
    Ping,
    Sync,
    Update,
    UpdateKind,
    WireError,
    encode_frame,
    frame_of,
    message_of,
    new_nonce,
    read_frame,
    sign_hello_ack,
    sign_hello_fin,
    verify_hello_fin,
)

HOST = "127.0.0.1"
NETWORK = network_id_for("growr-test")
ELSEWHERE = network_id_for("growr-elsewhere")
AMANI = NodeKey.from_seed(b"amani".ljust(32, b"\0"))  # an originator's node
INES = NodeKey.from_seed(b"ines".ljust(32, b"\0"))  # an investor's node
BARAKA = NodeKey.from_seed(b"baraka".ljust(32, b"\0"))  # another originator's node
MALLORY = NodeKey.from_seed(b"mallory".ljust(32, b"\0"))  # a hostile node

NAMES = {AMANI: "Amani Microfinance", INES: "Ines Invest", BARAKA: "Baraka", MALLORY: "Mallory"}


def record_for(key: NodeKey, network: bytes = NETWORK) -> NodeRecord:
    return sign_record(
        key,
        network_id=network,
        seq=1,
        role=Role.ORIGINATOR if key is AMANI else Role.INVESTOR,
        name=NAMES[key],
        url="https://node.example",
        gossip_host=HOST,
        gossip_port=7946,
        books=[],
    )


def ping(seq_no: int = 1) -> Ping:
    return Ping(seq_no=seq_no, target=INES.node_id)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Node:
    transport: Transport
    record: NodeRecord
    inbox: list[tuple[NodeRecord, Message]] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self.transport.port is not None
        return self.transport.port

    @property
    def received(self) -> list[Message]:
        return [message for _, message in self.inbox]

    async def send(self, to: Node, message: Message, **options: bytes | None) -> bool:
        return await self.transport.send(HOST, to.port, message, **options)


async def eventually(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.002)


@pytest.fixture
async def start_node():
    transports: list[Transport] = []

    async def start(
        key: NodeKey,
        *,
        network: bytes = NETWORK,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
        port: int = 0,
        deliver: Deliver | None = None,
    ) -> Node:
        record = record_for(key, network)
        node: Node

        async def into_inbox(sender: NodeRecord, message: Message) -> None:
            node.inbox.append((sender, message))

        transport = Transport(
            key=key,
            network_id=network,
            record=lambda: record,
            deliver=deliver or into_inbox,
            limits=limits or Limits(),
            clock=clock,
        )
        node = Node(transport, record)
        await transport.start(HOST, port)
        transports.append(transport)
        return node

    yield start
    for transport in transports:
        await transport.close()


@pytest.fixture
async def connect_raw():
    """A plain socket to a node, as a hostile or hand-driven peer would open it."""
    writers: list[asyncio.StreamWriter] = []

    async def connect(node: Node) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(HOST, node.port)
        writers.append(writer)
        return reader, writer

    yield connect
    for writer in writers:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def write(writer: asyncio.StreamWriter, message: Message) -> None:
    writer.write(encode_frame(frame_of(message)))
    await writer.drain()


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Whatever the node still sent before it closed the connection, which it must do soon."""
    try:
        async with asyncio.timeout(2):
            return await reader.read()
    except ConnectionResetError:  # closed with our unread bytes still in its buffer
        return b""


async def raw_hello(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: NodeRecord
) -> tuple[bytes, HelloAck]:
    """Open a handshake by hand presenting RECORD: our HELLO nonce and the node's HELLO_ACK."""
    nonce = new_nonce()
    await write(writer, Hello(NETWORK, WIRE_VERSION, nonce, record.raw))
    ack = message_of(await read_frame(reader, timeout=2))
    assert isinstance(ack, HelloAck)
    return nonce, ack


# Messages between verified nodes.


async def test_amani_pings_ines_who_is_told_it_comes_from_amanis_verified_record(start_node):
    amani, ines = await start_node(AMANI), await start_node(INES)

    assert await amani.send(ines, ping(7))

    await eventually(lambda: ines.inbox)
    assert ines.inbox == [(amani.record, ping(7))]
    assert not amani.inbox
    assert not ines.transport.stats
    assert not amani.transport.send_failures


async def test_concurrent_sends_to_one_peer_share_one_connection_and_arrive_whole(start_node):
    amani, ines = await start_node(AMANI), await start_node(INES)

    sent = await asyncio.gather(*(amani.send(ines, Nack(n)) for n in range(20)))

    assert all(sent)
    await eventually(lambda: len(ines.inbox) == 20)
    assert ines.received == [Nack(n) for n in range(20)]
    assert amani.transport.outbound_connections == 1
    assert ines.transport.inbound_connections == 1


async def test_ines_answers_amani_on_her_own_connection_not_on_amanis(start_node):
    amani, ines = await start_node(AMANI), await start_node(INES)

    assert await amani.send(ines, ping(1))
    assert await ines.send(amani, Nack(1))

    await eventually(lambda: amani.inbox and ines.inbox)
    assert amani.inbox == [(ines.record, Nack(1))]
    assert amani.transport.outbound_connections == ines.transport.outbound_connections == 1


async def test_a_deliver_that_fails_costs_the_sender_neither_message_order_nor_connection(
    start_node,
):
    delivered = []

    def deliver(sender: NodeRecord, message: Message) -> None:  # plain functions work too
        if message == Nack(1):
            raise RuntimeError("a bug in the engine")
        delivered.append(message)

    ines, amani = await start_node(INES, deliver=deliver), await start_node(AMANI)

    for n in range(3):
        assert await amani.send(ines, Nack(n))

    await eventually(lambda: len(delivered) == 2)
    assert delivered == [Nack(0), Nack(2)]
    assert ines.transport.inbound_connections == 1


# Who may talk: the handshake.


async def test_a_node_of_another_network_is_refused_and_counted(start_node):
    ines = await start_node(INES)
    mallory = await start_node(MALLORY, network=ELSEWHERE)

    assert not await mallory.send(ines, ping())

    assert ines.transport.stats == {Reason.WRONG_NETWORK: 1}
    assert mallory.transport.send_failures == {Reason.REFUSED_BY_PEER: 1}
    assert not ines.inbox
    await eventually(lambda: ines.transport.inbound_connections == 0)


@pytest.mark.parametrize(
    ("hello", "code", "reason"),
    [
        (
            lambda: Hello(NETWORK, WIRE_VERSION + 1, new_nonce(), record_for(MALLORY).raw),
            ErrCode.WRONG_VERSION,
            Reason.WRONG_VERSION,
        ),
        (
            lambda: Hello(NETWORK, WIRE_VERSION, new_nonce(), b"forged"),
            ErrCode.BAD_RECORD,
            Reason.BAD_RECORD,
        ),
        (
            lambda: Hello(NETWORK, WIRE_VERSION, new_nonce(), record_for(MALLORY, ELSEWHERE).raw),
            ErrCode.BAD_RECORD,
            Reason.BAD_RECORD,
        ),
    ],
    ids=["newer wire version", "unsigned record", "record of another network"],
)
async def test_a_misconfigured_caller_is_told_why_before_it_is_closed(
    start_node, connect_raw, hello, code, reason
):
    ines = await start_node(INES)
    reader, writer = await connect_raw(ines)

    await write(writer, hello())

    answer = await until_closed(reader)
    assert Err.decode(answer[6:]).code == code
    assert ines.transport.stats == {reason: 1}


async def test_a_caller_that_proves_its_key_by_hand_is_heard(start_node, connect_raw):
    ines = await start_node(INES)
    reader, writer = await connect_raw(ines)
    mallory = record_for(MALLORY)

    nonce, ack = await raw_hello(reader, writer, mallory)
    signature = sign_hello_fin(MALLORY, network_id=NETWORK, their_nonce=ack.nonce, own_nonce=nonce)
    await write(writer, HelloFin(signature))
    await write(writer, ping())

    await eventually(lambda: ines.inbox)
    assert ines.inbox == [(mallory, ping())]


def _fin_with_zeros(nonce: bytes, ack: HelloAck) -> bytes:
    return bytes(64)


def _fin_under_the_ack_domain(nonce: bytes, ack: HelloAck) -> bytes:
    content = NETWORK + ack.nonce + nonce
    return MALLORY.sign(HELLO_ACK_DOMAIN, content)


def _fin_for_another_hello(nonce: bytes, ack: HelloAck) -> bytes:
    return sign_hello_fin(MALLORY, network_id=NETWORK, their_nonce=ack.nonce, own_nonce=new_nonce())


def _fin_by_mallory(nonce: bytes, ack: HelloAck) -> bytes:
    return sign_hello_fin(MALLORY, network_id=NETWORK, their_nonce=ack.nonce, own_nonce=nonce)


@pytest.mark.parametrize(
    ("presented", "fin"),
    [
        (MALLORY, _fin_with_zeros),
        (MALLORY, _fin_under_the_ack_domain),
        (MALLORY, _fin_for_another_hello),
        (AMANI, _fin_by_mallory),
    ],
    ids=["forged signature", "ack domain", "another hello", "amani's record, mallory's key"],
)
async def test_a_caller_that_cannot_prove_its_key_is_never_heard(
    start_node, connect_raw, presented, fin
):
    ines = await start_node(INES)
    reader, writer = await connect_raw(ines)

    nonce, ack = await raw_hello(reader, writer, record_for(presented))
    await write(writer, HelloFin(fin(nonce, ack)))
    await write(writer, ping())

    assert await until_closed(reader) == b""
    assert ines.transport.stats == {Reason.BAD_HANDSHAKE: 1}
    assert not ines.inbox


async def test_a_caller_that_skips_hello_fin_is_never_heard(start_node, connect_raw):
    ines = await start_node(INES)
    reader, writer = await connect_raw(ines)

    await raw_hello(reader, writer, record_for(MALLORY))
    await write(writer, ping())

    assert await until_closed(reader) == b""
    assert ines.transport.stats == {Reason.BAD_HANDSHAKE: 1}
    assert not ines.inbox


async def test_a_listener_that_is_not_the_expected_node_gets_nothing(start_node):
    amani, ines = await start_node(AMANI), await start_node(INES)

    assert not await amani.send(ines, ping(), expect_node_id=MALLORY.node_id)
    assert await amani.send(ines, ping(2), expect_node_id=INES.node_id)
    assert not await amani.send(ines, ping(3), expect_node_id=MALLORY.node_id)

    await eventually(lambda: ines.inbox)
    assert ines.received == [ping(2)]
    assert amani.transport.send_failures == {Reason.WRONG_NODE: 2}


async def test_a_second_hello_after_the_handshake_closes_the_connection(start_node, connect_raw):
    ines = await start_node(INES)
    reader, writer = await connect_raw(ines)
    nonce, ack = await raw_hello(reader, writer, record_for(MALLORY))
    await write(writer, HelloFin(_fin_by_mallory(nonce, ack)))

    await write(writer, Hello(NETWORK, WIRE_VERSION, new_nonce(), record_for(AMANI).raw))

    assert await until_closed(reader) == b""
    assert ines.transport.stats == {Reason.UNEXPECTED_MESSAGE: 1}


# Hostile bytes.


def header(length: int, frame_type: int) -> bytes:
    return uint(length, 4) + uint(frame_type, 1) + uint(0, 1)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GET / HTTP/1.1\r\nHost: ines.example\r\n\r\n", Reason.MALFORMED_FRAME),
        (header(2**31, FrameType.HELLO), Reason.OVERSIZED_FRAME),
        (encode_frame(frame_of(ping())), Reason.NOT_HELLO_FIRST),
        (header(2 + 10, FrameType.HELLO) + bytes(10), Reason.MALFORMED_FRAME),
        (header(2 + 10, FrameType.HELLO), Reason.TIMEOUT),
        (b"", Reason.TIMEOUT),
    ],
    ids=["http", "2 GiB header", "ping first", "short hello", "half a hello", "silence"],
)
async def test_a_raw_socket_breaking_the_protocol_is_cut_off_and_others_still_served(
    start_node, connect_raw, data, reason
):
    ines = await start_node(INES, limits=Limits(handshake_timeout=0.05))
    amani = await start_node(AMANI)
    reader, writer = await connect_raw(ines)

    writer.write(data)
    await writer.drain()

    assert await until_closed(reader) == b""
    assert ines.transport.stats == {reason: 1}
    assert await amani.send(ines, ping())
    await eventually(lambda: ines.inbox)


async def test_a_peer_silent_past_the_idle_timeout_is_let_go_and_the_next_send_reconnects(
    start_node,
):
    ines = await start_node(INES, limits=Limits(idle_timeout=0.05))
    amani = await start_node(AMANI)
    assert await amani.send(ines, ping(1))

    await eventually(lambda: amani.transport.outbound_connections == 0)

    assert ines.transport.stats == {Reason.TIMEOUT: 1}
    assert await amani.send(ines, ping(2))
    await eventually(lambda: len(ines.inbox) == 2)


# Limits.


async def test_a_peer_sending_beyond_its_burst_has_the_excess_dropped_not_its_connection(
    start_node,
):
    clock = FakeClock()
    ines = await start_node(
        INES, clock=clock, limits=Limits(peer_frame_rate=50, peer_frame_burst=100)
    )
    amani = await start_node(AMANI)

    for n in range(130):
        assert await amani.send(ines, Nack(n))
    await eventually(lambda: len(ines.inbox) + ines.transport.stats[Reason.RATE_LIMITED] == 130)

    assert ines.received == [Nack(n) for n in range(100)]
    assert ines.transport.stats == {Reason.RATE_LIMITED: 30}

    clock.now += 0.2  # 10 new tokens
    for n in range(130, 145):
        assert await amani.send(ines, Nack(n))
    await eventually(lambda: ines.transport.stats[Reason.RATE_LIMITED] == 35)

    assert ines.received[100:] == [Nack(n) for n in range(130, 140)]
    assert ines.transport.inbound_connections == 1


async def test_syncs_beyond_the_nodes_sync_budget_are_dropped_whoever_sends_them(start_node):
    clock = FakeClock()
    ines = await start_node(INES, clock=clock, limits=Limits(sync_rate=2, sync_burst=3))
    amani, baraka = await start_node(AMANI), await start_node(BARAKA)
    sync = Sync.of([(AMANI.node_id, 1, 1)], with_digest=True)

    for sender in (amani, baraka, amani, baraka):
        assert await sender.send(ines, sync)
        assert await sender.send(ines, Nack(1))
    await eventually(lambda: len(ines.inbox) == 7)

    assert sum(isinstance(m, Sync) for m in ines.received) == 3
    assert ines.transport.stats == {Reason.SYNC_LIMITED: 1}
    clock.now += 0.5  # one more sync a second later
    assert await amani.send(ines, sync)
    await eventually(lambda: len(ines.inbox) == 8)


async def test_beyond_the_inbound_connection_cap_new_connections_are_closed_at_once(
    start_node, connect_raw
):
    ines = await start_node(INES, limits=Limits(max_inbound_connections=2))
    amani = await start_node(AMANI)
    _, first = await connect_raw(ines)
    await connect_raw(ines)
    await eventually(lambda: ines.transport.inbound_connections == 2)

    third, _ = await connect_raw(ines)

    assert await until_closed(third) == b""
    assert not await amani.send(ines, ping())
    assert ines.transport.stats == {Reason.TOO_MANY_CONNECTIONS: 2}
    assert amani.transport.send_failures == {Reason.REFUSED_BY_PEER: 1}

    first.close()
    await eventually(lambda: ines.transport.inbound_connections == 1)
    assert await amani.send(ines, ping())


async def test_one_ip_gets_only_its_share_of_the_connections(start_node, connect_raw):
    ines = await start_node(INES, limits=Limits(max_inbound_connections_per_ip=1))
    await connect_raw(ines)
    await eventually(lambda: ines.transport.inbound_connections == 1)

    second, _ = await connect_raw(ines)

    assert await until_closed(second) == b""
    assert ines.transport.stats == {Reason.TOO_MANY_CONNECTIONS_FROM_IP: 1}


async def test_new_connections_from_one_address_block_are_rate_limited(start_node, connect_raw):
    clock = FakeClock()
    limits = Limits(block_connection_rate=1, block_connection_burst=2)
    ines = await start_node(INES, clock=clock, limits=limits)
    for _ in range(2):
        await connect_raw(ines)
    await eventually(lambda: ines.transport.inbound_connections == 2)

    third, _ = await connect_raw(ines)
    assert await until_closed(third) == b""
    assert ines.transport.stats == {Reason.CONNECTION_RATE_LIMITED: 1}

    clock.now += 1
    await connect_raw(ines)
    await eventually(lambda: ines.transport.inbound_connections == 3)


def test_a_token_bucket_refills_at_its_rate_up_to_its_burst():
    clock = FakeClock()
    buckets = TokenBuckets(rate=2, burst=3, clock=clock)

    assert [buckets.take("amani") for _ in range(4)] == [True, True, True, False]
    assert buckets.take("ines")
    clock.now += 0.5
    assert [buckets.take("amani") for _ in range(2)] == [True, False]
    clock.now += 100
    assert [buckets.take("amani") for _ in range(4)] == [True, True, True, False]


def test_refilled_buckets_are_forgotten_without_changing_any_decision():
    clock = FakeClock()
    buckets = TokenBuckets(rate=1, burst=1, clock=clock)
    assert all(buckets.take(n) for n in range(1025))
    assert not buckets.take(0)

    clock.now += 1
    assert all(buckets.take(n) for n in range(1025, 2051))

    assert len(buckets._buckets) == 1026
    assert buckets.take(0)
    assert not buckets.take(2050)


@pytest.mark.parametrize(
    ("peername", "block"),
    [
        (("203.0.113.77", 4000), "203.0.113.0/24"),
        (("2001:db8:aa:bbcc::1", 4000, 0, 0), "2001:db8:aa:bb00::/56"),
        (("::ffff:203.0.113.77", 4000, 0, 0), "203.0.113.0/24"),
    ],
)
def test_rate_limits_apply_to_a_whole_address_block(peername, block):
    ip = source_ip(peername)

    assert ip is not None
    assert address_block(ip) == ipaddress.ip_network(block)


@pytest.mark.parametrize("peername", [None, (), ("not an address", 1)])
def test_a_peer_without_an_ip_address_has_no_source_ip(peername):
    assert source_ip(peername) is None


# Failing and reconnecting.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


async def test_a_send_to_a_closed_port_fails_quickly_and_says_so(start_node):
    amani = await start_node(AMANI)
    started = time.monotonic()

    assert not await amani.transport.send(HOST, free_port(), ping())

    assert time.monotonic() - started < 1
    assert amani.transport.send_failures == {Reason.UNREACHABLE: 1}


async def test_a_send_that_cannot_be_encoded_fails_without_connecting(start_node):
    amani, ines = await start_node(AMANI), await start_node(INES)
    full_records = tuple(Update(UpdateKind.RECORD, bytes(MAX_RECORD_BYTES)) for _ in range(64))

    assert not await amani.send(ines, Gossip(full_records))

    assert amani.transport.send_failures == {Reason.UNSENDABLE: 1}
    assert amani.transport.outbound_connections == 0


async def test_after_ines_restarts_amani_reconnects(start_node):
    amani, ines = await start_node(AMANI), await start_node(INES)
    port = ines.port
    assert await amani.send(ines, ping(1))

    await ines.transport.close()
    await eventually(lambda: amani.transport.outbound_connections == 0)
    assert not await amani.transport.send(HOST, port, ping(2))

    restarted = await start_node(INES, port=port)
    assert await amani.send(restarted, ping(3))
    await eventually(lambda: restarted.inbox)
    assert restarted.inbox == [(amani.record, ping(3))]


async def test_close_leaves_no_task_and_no_connection_behind(start_node, connect_raw):
    before = asyncio.all_tasks()
    amani, ines = await start_node(AMANI), await start_node(INES)
    assert await amani.send(ines, ping())
    assert await ines.send(amani, ping())
    reader, _ = await connect_raw(ines)  # stuck in its handshake
    await eventually(lambda: ines.transport.inbound_connections == 2)

    await ines.transport.close()
    await amani.transport.close()

    assert asyncio.all_tasks() - before == set()
    assert await until_closed(reader) == b""
    assert ines.transport.inbound_connections == amani.transport.outbound_connections == 0
    assert not await amani.send(ines, ping())


# HELLO_FIN on the wire.


@given(st.binary(min_size=64, max_size=64))
def test_hello_fin_crosses_the_wire_unchanged(signature):
    fin = HelloFin(signature)

    assert HelloFin.decode(fin.encode()) == fin
    assert message_of(frame_of(fin)) == fin


@given(st.binary(max_size=200))
def test_arbitrary_bytes_to_the_hello_fin_decoder_raise_only_wire_errors(body):
    with contextlib.suppress(WireError):
        HelloFin.decode(body)


def test_a_hello_fin_signature_is_64_bytes():
    with pytest.raises(WireError, match="a signature is 64 bytes, got 63"):
        HelloFin(bytes(63))
    with pytest.raises(WireError, match="HELLO_FIN body refused: 1 trailing bytes"):
        HelloFin.decode(bytes(65))


@pytest.mark.parametrize(
    "mismatch", ["other key", "other network", "nonces swapped", "ack signature"]
)
def test_a_hello_fin_proves_the_callers_key_for_this_handshake_only(mismatch):
    hello_nonce, ack_nonce = new_nonce(), new_nonce()
    fin = HelloFin(
        sign_hello_fin(AMANI, network_id=NETWORK, their_nonce=ack_nonce, own_nonce=hello_nonce)
    )
    verify_hello_fin(
        AMANI.public_key, network_id=NETWORK, ack_nonce=ack_nonce, hello_nonce=hello_nonce, fin=fin
    )
    public_key, network_id = AMANI.public_key, NETWORK
    if mismatch == "other key":
        public_key = MALLORY.public_key
    elif mismatch == "other network":
        network_id = ELSEWHERE
    elif mismatch == "nonces swapped":
        hello_nonce, ack_nonce = ack_nonce, hello_nonce
    else:  # the listener's own HELLO_ACK signature, reflected back as a HELLO_FIN
        fin = HelloFin(
            sign_hello_ack(AMANI, network_id=NETWORK, their_nonce=ack_nonce, own_nonce=hello_nonce)
        )

    with pytest.raises(WireError, match="the caller did not prove its key"):
        verify_hello_fin(
            public_key, network_id=network_id, ack_nonce=ack_nonce, hello_nonce=hello_nonce, fin=fin
        )
