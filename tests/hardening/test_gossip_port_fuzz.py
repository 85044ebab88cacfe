"""Mallory on the gossip port: the node's real discovery agent, on its database, is sent what a
hostile peer can send over TCP, made up by hypothesis.

Bytes that are no frame at all, length prefixes cut short or announcing gigabytes, real frame
headers over garbage bodies, HELLOs from another network or with a forged or stolen record, a
HELLO_FIN that proves nothing, and, from a Mallory who does prove her key, garbage frames and
gossip about other nodes with broken signatures. After each attack the node still answers an
honest node's handshake; afterwards its peer table holds nothing (or only what Mallory signed
about herself), it follows no book it was not told of by a real node, and nothing in the logs
says a connection failed on an error of ours.

The transport's rules and the engine's are tested on their own in tests/discovery (frames,
handshake, limits, engine fuzzing); here they run together as `manage.py gossip` runs them.
"""

from __future__ import annotations

import functools
import logging
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.discovery import runner
from apps.discovery.gossip.agent import AgentSettings
from apps.discovery.gossip.claims import BookAnnouncement, Role, Status
from apps.discovery.gossip.codec import uint
from apps.discovery.gossip.records import NodeKey, network_id_for, open_record, sign_claim
from apps.discovery.gossip.transport import Limits
from apps.discovery.gossip.wire import (
    WIRE_VERSION,
    FrameType,
    Gossip,
    Hello,
    HelloAck,
    HelloFin,
    Update,
    UpdateKind,
    encode_frame,
    frame_of,
    new_nonce,
    sign_hello_fin,
    verify_hello_ack,
)
from apps.discovery.models import Peer
from apps.ledger.models import Follow
from tests.discovery.records import signed_record

pytestmark = pytest.mark.django_db(transaction=True)
HOST = "127.0.0.1"
NETWORK_NAME = "growr-hostile"
NETWORK = network_id_for(NETWORK_NAME)
ELSEWHERE = network_id_for("growr-elsewhere")
MALLORY = NodeKey.from_seed(b"mallory".ljust(32, b"\0"))
AMANI = NodeKey.from_seed(b"amani".ljust(32, b"\0"))  # an honest node Mallory impersonates
INES = NodeKey.from_seed(b"ines".ljust(32, b"\0"))  # an honest node checking on the agent
# Flooding from one address is the transport's rate limits' business (tested on their own);
# here every attack must reach the parsers, so the limits are out of the way.
OPEN_DOOR = Limits(
    max_inbound_connections_per_ip=128, block_connection_rate=10_000, block_connection_burst=10_000
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _record(key: NodeKey, name: str, network: bytes = NETWORK, **fields):
    return signed_record(key, network_id=network, name=name, role=Role.INVESTOR, **fields)


MALLORY_RECORD = _record(MALLORY, "Mallory")
AMANI_RECORD = _record(AMANI, "Amani", books=(BookAnnouncement(b"\x07" * 32, "projects", 9),))


# --- a blocking peer --------------------------------------------------------------------------


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    length = int.from_bytes(_exactly(sock, 4), "big")
    rest = _exactly(sock, length)
    return rest[0], rest[2:]


def _frame(message) -> bytes:
    return encode_frame(frame_of(message))


def _hello(record_raw: bytes, network: bytes = NETWORK) -> tuple[bytes, bytes]:
    nonce = new_nonce()
    return nonce, _frame(Hello(network, WIRE_VERSION, nonce, record_raw))


def _send(port: int, *chunks: bytes) -> None:
    """Send CHUNKS and hang up, reading nothing: what a scanner or a broken client does."""
    with socket.create_connection((HOST, port), timeout=2) as sock:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the node hung up first: that is one of the right answers


def _handshake(
    port: int, key: NodeKey, record, *, fin=None
) -> tuple[socket.socket, bytes, HelloAck]:
    """HELLO, read HELLO_ACK (checking the node's signature), then HELLO_FIN (by default a
    true one); the open connection, for what comes after."""
    sock = socket.create_connection((HOST, port), timeout=2)
    nonce, hello = _hello(record.raw)
    sock.sendall(hello)
    frame_type, body = _read_frame(sock)
    assert frame_type == FrameType.HELLO_ACK, f"{FrameType(frame_type).name} instead of HELLO_ACK"
    ack = HelloAck.decode(body)
    if fin is None:
        fin = sign_hello_fin(key, network_id=NETWORK, their_nonce=ack.nonce, own_nonce=nonce)
    sock.sendall(_frame(HelloFin(fin)))
    return sock, nonce, ack


def _still_answers(port: int) -> None:
    """Ines, an honest node, is welcomed: the node signs her nonce with its key."""
    sock, nonce, ack = _handshake(port, INES, _record(INES, "Ines"))
    with sock:
        node = open_record(ack.record, network_id=NETWORK)
        verify_hello_ack(node.public_key, network_id=NETWORK, hello_nonce=nonce, ack=ack)


# --- what Mallory sends -----------------------------------------------------------------------

FRAME_TYPES = st.sampled_from([int(t) for t in FrameType] + [0, 15, 255])


def _header(length: int, frame_type: int, flags: int = 0) -> bytes:
    return uint(length, 4) + uint(frame_type, 1) + uint(flags, 1)


def _flipped(data: bytes, position: int) -> bytes:
    position %= len(data)
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def _raw_bytes():
    return st.binary(min_size=1, max_size=400).map(lambda data: ("raw bytes", [data]))


def _cut_length_prefix():
    return st.integers(1, 5).map(
        lambda n: ("cut length prefix", [_hello(MALLORY_RECORD.raw)[1][:n]])
    )


def _huge_length():
    lengths = st.one_of(st.integers(64 * 1024 + 1, 2**32 - 1), st.just(2**32 - 1))
    return st.tuples(lengths, FRAME_TYPES, st.binary(max_size=64)).map(
        lambda t: ("announces a huge frame", [_header(t[0], t[1]) + t[2]])
    )


def _garbage_body():
    return st.tuples(FRAME_TYPES, st.integers(0, 255), st.binary(max_size=600)).map(
        lambda t: ("garbage body", [_header(len(t[2]) + 2, t[0], t[1]) + t[2]])
    )


def _hello_from_elsewhere():
    stranger = _record(MALLORY, "Mallory", network=ELSEWHERE)
    return st.sampled_from(
        [
            ("hello from another network", [_hello(stranger.raw, ELSEWHERE)[1]]),
            ("hello with a record of another network", [_hello(stranger.raw)[1]]),
        ]
    )


def _hello_with_forged_record():
    return st.integers(0, len(AMANI_RECORD.raw) - 1).map(
        lambda at: ("hello with a forged record", [_hello(_flipped(AMANI_RECORD.raw, at))[1]])
    )


def _hello_with_stolen_record():
    """Amani's real record, which Mallory cannot sign for: her HELLO_FIN proves nothing."""
    fins = st.one_of(st.binary(min_size=64, max_size=64), st.just(None))
    return fins.map(lambda fin: ("stolen record", fin))


def _in_amanis_name(status: Status) -> bytes:
    """A claim about Amani, in Amani's name, signed by Mallory: her own claim with Amani's
    public key and node id written over hers."""
    own = sign_claim(
        MALLORY, network_id=NETWORK, status=status, subject=MALLORY.node_id, incarnation=2**40
    ).raw
    return own[:1] + AMANI.public_key + own[33:66] + AMANI.node_id + own[98:]


def _forged_updates():
    """Gossip about Amani that Mallory cannot have had from her: Amani's record with a bit
    flipped, Amani's record for another network, and Amani "alive" or "left" in her name."""
    forged_record = st.integers(0, len(AMANI_RECORD.raw) - 1).map(
        lambda at: Update(UpdateKind.RECORD, _flipped(AMANI_RECORD.raw, at))
    )
    elsewhere = st.just(Update(UpdateKind.RECORD, _record(AMANI, "Amani", ELSEWHERE).raw))
    claim = st.sampled_from([Status.ALIVE, Status.LEFT]).map(
        lambda status: Update(UpdateKind.CLAIM, _in_amanis_name(status))
    )
    return st.lists(st.one_of(forged_record, elsewhere, claim), min_size=1, max_size=5)


def _after_handshake():
    frames = st.one_of(
        _garbage_body().map(lambda t: t[1][0]),
        _forged_updates().map(lambda updates: _frame(Gossip(tuple(updates)))),
    )
    return st.lists(frames, min_size=1, max_size=6).map(lambda f: ("after handshake", f))


FAMILIES = [
    _raw_bytes(),
    _cut_length_prefix(),
    _huge_length(),
    _garbage_body(),
    _hello_from_elsewhere(),
    _hello_with_forged_record(),
    _hello_with_stolen_record(),
    _after_handshake(),
]
# Each family as often as the others: one_of would favour the ones with more to draw.
ATTACKS = st.sampled_from(FAMILIES).flatmap(lambda family: family)


def _attack(port: int, attack) -> None:
    kind, payload = attack
    if kind == "stolen record":
        try:
            sock, _, _ = _handshake(port, MALLORY, AMANI_RECORD, fin=payload or bytes(64))
            sock.close()
        except (OSError, AssertionError):
            pass
    elif kind == "after handshake":
        sock, _, _ = _handshake(port, MALLORY, MALLORY_RECORD)
        with sock:
            try:
                for chunk in payload:
                    sock.sendall(chunk)
            except OSError:
                pass
    else:
        _send(port, *payload)


# --- the node ---------------------------------------------------------------------------------


@pytest.fixture
def agent(settings, monkeypatch):
    """This node's discovery agent as `manage.py gossip` runs it, on a port of its own: its
    port, and its thread (stopping it flushes what it knows to the database one last time)."""
    port = _free_port()
    settings.GROWR_NETWORK = NETWORK_NAME
    settings.GROWR_GOSSIP_BIND = f"{HOST}:{port}"
    settings.GROWR_GOSSIP_SEEDS = []
    monkeypatch.setattr(
        runner,
        "AgentSettings",
        functools.partial(AgentSettings, limits=OPEN_DOOR, flush_interval=0.1, record_interval=1),
    )
    thread = runner.AgentThread()
    thread.start()
    assert thread.started.wait(15) and thread.failure is None, thread.failure
    yield port, thread
    if thread.is_alive():
        thread.stop()
    assert not thread.is_alive()


def _peer_ids() -> set[bytes]:
    return {bytes(node_id) for node_id in Peer.objects.values_list("node_id", flat=True)}


def test_whatever_mallory_sends_the_node_keeps_serving_and_stores_nothing(agent, caplog):
    caplog.set_level(logging.WARNING)
    follows = Follow.objects.count()
    port, thread = agent

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(ATTACKS)
    def mallory_tries(attack):
        _attack(port, attack)
        _still_answers(port)

    mallory_tries()
    thread.stop()  # its last flush: whatever it kept is in the database now
    assert not thread.is_alive() and thread.failure is None, thread.failure

    assert _peer_ids() <= {MALLORY.node_id}
    stored = Peer.objects.filter(node_id=MALLORY.node_id).first()
    assert stored is None or bytes(stored.record) == MALLORY_RECORD.raw
    assert Follow.objects.count() == follows
    failures = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("apps.discovery") and r.levelno >= logging.ERROR
    ]
    assert failures == []
