"""The TCP transport of the discovery protocol: it carries wire messages between nodes that have
proved who they are, and keeps hostile peers cheap to turn away (gossip.md §7.3, §7.5).

Every connection starts with a three-message handshake. The caller sends HELLO (its network,
wire version, a nonce and its signed record); the answering node checks the network and the
record and sends HELLO_ACK (its own nonce, its record, and its signature over both nonces); the
caller checks that signature, and proves its own key with HELLO_FIN (its signature over both
nonces, in the other order, under another domain). Only then does the answering node deliver
the caller's messages.

Connections carry messages one way. A node sends on outbound connections it keeps in a pool, one
per peer address, and reads its inbound connections; it never answers on the connection a
message came in on. The engine answers a PING by sending its ACK to the gossip address in the
sender's verified record, so every message a node sends goes to an address its owner signed, and
each side needs only one writer and one reader per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from .claims import NodeRecord
from .records import NodeKey, RecordError, is_host, open_record
from .wire import (
    WIRE_VERSION,
    ConnectionClosed,
    Err,
    FrameTooLarge,
    FrameType,
    Hello,
    HelloAck,
    HelloFin,
    Message,
    UnexpectedFrame,
    WireError,
    encode_frame,
    frame_of,
    message_of,
    new_nonce,
    read_frame,
    sign_hello_ack,
    sign_hello_fin,
    verify_hello_ack,
    verify_hello_fin,
)

logger = logging.getLogger(__name__)

Address = tuple[str, int]
Deliver = Callable[[NodeRecord, Message], Awaitable[None] | None]

_HANDSHAKE_FRAME_TYPES = frozenset({FrameType.HELLO, FrameType.HELLO_ACK, FrameType.HELLO_FIN})
_IPV4_BLOCK_PREFIX = 24
_IPV6_BLOCK_PREFIX = 56
# Token buckets that have refilled are forgotten once this many are kept: a full bucket and a
# missing one take the same decisions, so pruning changes nothing but memory.
_BUCKETS_KEPT_BEFORE_PRUNING = 1024


@dataclass(frozen=True)
class Limits:
    """What one node grants its peers. Times are in seconds, rates per second."""

    max_inbound_connections: int = 128
    max_inbound_connections_per_ip: int = 8
    peer_frame_rate: float = 50.0
    peer_frame_burst: int = 100
    block_connection_rate: float = 10.0
    block_connection_burst: int = 20
    # SYNC is the one costly message (a digest of every member in, deltas of up to 1 MiB out):
    # this node answers at most this many, from all peers together.
    sync_rate: float = 2.0
    sync_burst: int = 8
    connect_timeout: float = 2.0
    handshake_timeout: float = 2.0
    idle_timeout: float = 60.0
    write_timeout: float = 5.0


class Reason(enum.StrEnum):
    """Why a connection, a frame or a send was refused or dropped: the keys of the counters."""

    # Inbound: what a peer sent.
    WRONG_NETWORK = "wrong network"
    WRONG_VERSION = "wrong wire version"
    BAD_RECORD = "bad record"
    BAD_HANDSHAKE = "bad handshake"
    NOT_HELLO_FIRST = "not hello first"
    UNEXPECTED_MESSAGE = "unexpected message"
    RATE_LIMITED = "rate limited"
    SYNC_LIMITED = "too many syncs"
    CONNECTION_RATE_LIMITED = "connection rate limited"
    TOO_MANY_CONNECTIONS = "too many connections"
    TOO_MANY_CONNECTIONS_FROM_IP = "too many connections from one ip"
    BANNED = "banned node"
    MALFORMED_FRAME = "malformed frame"
    OVERSIZED_FRAME = "oversized frame"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection error"
    # Outbound: why a send failed.
    UNREACHABLE = "unreachable"
    REFUSED_BY_PEER = "refused by peer"
    WRONG_NODE = "wrong node"
    WRITE_FAILED = "write failed"
    UNSENDABLE = "unsendable message"


class ErrCode(enum.IntEnum):
    """The ERR codes an answering node sends before it closes a handshake it refuses."""

    WRONG_NETWORK = 1
    WRONG_VERSION = 2
    BAD_RECORD = 3


class _Refusal(Exception):
    """A handshake or a connection that breaks a rule, with the reason it is counted under."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class TokenBuckets:
    """One token bucket per key: RATE tokens a second, at most BURST saved up. Each event takes a
    token; an event that finds none is refused."""

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key: (tokens, when counted)
        self._prune_above = _BUCKETS_KEPT_BEFORE_PRUNING

    def take(self, key: Hashable) -> bool:
        now = self._clock()
        tokens = self._tokens(key, now)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self._prune_above:
            self._prune(now)
        return allowed

    def _tokens(self, key: Hashable, now: float) -> float:
        if key not in self._buckets:
            return self._burst
        tokens, counted = self._buckets[key]
        return min(self._burst, tokens + (now - counted) * self._rate)

    def _prune(self, now: float) -> None:
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if self._tokens(key, now) < self._burst
        }
        # Pruning again only once the table has doubled keeps each take O(1) amortised.
        self._prune_above = max(_BUCKETS_KEPT_BEFORE_PRUNING, 2 * len(self._buckets))


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address:
    """HOST:PORT, or [IPV6]:PORT, as written in settings and on the Network page; ValueError
    saying what is wrong otherwise."""
    host, sep, port_text = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host:
        raise ValueError(f"{text!r} is not HOST:PORT")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    if not is_host(host):
        raise ValueError(f"{text!r}: {host!r} is not a host name or IP address")
    return host, int(port_text)


def source_ip(peername: object) -> IPAddress | None:
    """The IP address of a socket's peer name, IPv4-mapped IPv6 addresses as IPv4."""
    if not isinstance(peername, tuple) or not peername:
        return None
    try:
        ip = ipaddress.ip_address(peername[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def address_block(ip: IPAddress) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The block IP belongs to for rate limits: its /24 (IPv4) or /56 (IPv6), about what one
    operator holds, so a peer cannot escape the limit by hopping to a neighbouring address."""
    prefix = _IPV4_BLOCK_PREFIX if ip.version == 4 else _IPV6_BLOCK_PREFIX
    return ipaddress.ip_network((ip, prefix), strict=False)


@dataclass
class _Outbound:
    """A handshaken connection to PEER, written to by sends and watched for its end."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: NodeRecord
    watcher: asyncio.Task[None] | None = None


@dataclass
class _Link:
    """What sends to one address share: the lock that serialises them, and the connection."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    connection: _Outbound | None = None
    senders: int = 0


class Transport:
    """Carries wire messages between verified nodes over TCP (see the module docstring).

    `stats` counts what was refused or dropped from inbound peers, `send_failures` the sends that
    failed, both by Reason, for the agent to expose. `port` is the bound port once started.
    """

    def __init__(
        self,
        *,
        key: NodeKey,
        network_id: bytes,
        record: Callable[[], NodeRecord],
        deliver: Deliver,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        banned: Callable[[bytes], bool] = lambda node_id: False,
    ) -> None:
        self._key = key
        self._banned = banned
        self._network_id = network_id
        self._record = record
        self._deliver = deliver
        self._limits = limits
        self._peer_frames = TokenBuckets(
            rate=limits.peer_frame_rate, burst=limits.peer_frame_burst, clock=clock
        )
        self._block_connections = TokenBuckets(
            rate=limits.block_connection_rate, burst=limits.block_connection_burst, clock=clock
        )
        self._syncs = TokenBuckets(rate=limits.sync_rate, burst=limits.sync_burst, clock=clock)
        self._server: asyncio.Server | None = None
        self._inbound: set[asyncio.Task[None]] = set()
        self._inbound_per_ip: Counter[IPAddress] = Counter()
        self._links: dict[Address, _Link] = {}
        self._closed = False
        self.port: int | None = None
        self.stats: Counter[str] = Counter()
        self.send_failures: Counter[str] = Counter()

    @property
    def inbound_connections(self) -> int:
        return len(self._inbound)

    @property
    def outbound_connections(self) -> int:
        return sum(1 for link in self._links.values() if link.connection is not None)

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("gossip transport listening on %s:%s", host, self.port)

    async def close(self) -> None:
        """Stop listening, close every connection and wait for their tasks to end."""
        self._closed = True
        if self._server is not None:
            self._server.close()
        tasks = list(self._inbound)
        for link in self._links.values():
            if link.connection is not None and link.connection.watcher is not None:
                tasks.append(link.connection.watcher)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        logger.info("gossip transport closed")

    # Sending.

    async def send(
        self, host: str, port: int, message: Message, *, expect_node_id: bytes | None = None
    ) -> bool:
        """Send MESSAGE to the node at HOST:PORT, connecting and handshaking first if no pooled
        connection is open. False, never an exception, if it could not be sent, including when
        EXPECT_NODE_ID is given and another node answers at that address."""
        if self._closed:
            return False
        try:
            data = encode_frame(frame_of(message))
        except WireError as error:
            return self._send_failed(Reason.UNSENDABLE, (host, port), str(error))
        address = (host, port)
        link = self._links.setdefault(address, _Link())
        link.senders += 1
        try:
            async with link.lock:
                return await self._send_on_link(address, link, data, expect_node_id)
        finally:
            link.senders -= 1
            self._forget_if_unused(address, link)

    async def _send_on_link(
        self, address: Address, link: _Link, data: bytes, expect_node_id: bytes | None
    ) -> bool:
        connection = link.connection
        if connection is None:
            connection = await self._connect(address, expect_node_id)
            if connection is None:
                return False
            link.connection = connection
            connection.watcher = asyncio.create_task(self._watch(connection))
            # A done callback, not a finally: it also runs for a task cancelled before it started.
            connection.watcher.add_done_callback(lambda _: self._unpool(address, link, connection))
        elif expect_node_id is not None and connection.peer.node_id != expect_node_id:
            return self._send_failed(
                Reason.WRONG_NODE, address, f"it is {_describe(connection.peer)}"
            )
        elif self._banned(connection.peer.node_id):  # banned since the connection was opened
            self._drop(link, connection)
            return self._send_failed(Reason.BANNED, address, _describe(connection.peer))
        try:
            async with asyncio.timeout(self._limits.write_timeout):
                connection.writer.write(data)
                await connection.writer.drain()
        except OSError as error:  # TimeoutError included
            self._drop(link, connection)
            return self._send_failed(Reason.WRITE_FAILED, address, repr(error))
        return True

    async def _connect(self, address: Address, expect_node_id: bytes | None) -> _Outbound | None:
        """A handshaken connection to ADDRESS, or None (counted) if there can be none."""
        if self._closed:  # a send that waited for the lock while the transport closed
            return None
        host, port = address
        try:
            async with asyncio.timeout(self._limits.connect_timeout):
                reader, writer = await asyncio.open_connection(host, port)
        except OSError as error:  # TimeoutError included
            self._send_failed(Reason.UNREACHABLE, address, repr(error))
            return None
        try:
            async with asyncio.timeout(self._limits.handshake_timeout):
                peer = await self._call(reader, writer, expect_node_id)
        except (_Refusal, WireError, OSError) as error:
            writer.close()
            # A listener that hangs up on a HELLO is refusing it (connection cap, rate limit).
            hung_up = isinstance(error, ConnectionClosed | ConnectionError)
            reason = Reason.REFUSED_BY_PEER if hung_up else _reason_for(error)
            self._send_failed(reason, address, str(error) or repr(error))
            return None
        if self._closed:
            writer.close()
            return None
        logger.debug("connected to %s at %s:%s", _describe(peer), host, port)
        return _Outbound(reader, writer, peer)

    async def _call(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        expect_node_id: bytes | None,
    ) -> NodeRecord:
        """The caller's side of the handshake: the answering node's verified record."""
        hello_nonce = new_nonce()
        await _write(writer, Hello(self._network_id, WIRE_VERSION, hello_nonce, self._own_record()))
        frame = await read_frame(
            reader,
            timeout=self._limits.handshake_timeout,
            expect=(FrameType.HELLO_ACK, FrameType.ERR),
        )
        if frame.frame_type is FrameType.ERR:
            refusal = Err.decode(frame.body)
            raise _Refusal(Reason.REFUSED_BY_PEER, f"ERR {refusal.code}: {refusal.message}")
        if frame.frame_type is not FrameType.HELLO_ACK:
            raise _Refusal(Reason.BAD_HANDSHAKE, f"{frame.frame_type.name} instead of HELLO_ACK")
        ack = HelloAck.decode(frame.body)
        peer = self._open_record(ack.record)
        if expect_node_id is not None and peer.node_id != expect_node_id:
            raise _Refusal(Reason.WRONG_NODE, f"{_describe(peer)} answered")
        try:
            verify_hello_ack(
                peer.public_key, network_id=self._network_id, hello_nonce=hello_nonce, ack=ack
            )
        except WireError as error:
            raise _Refusal(Reason.BAD_HANDSHAKE, str(error)) from None
        signature = sign_hello_fin(
            self._key, network_id=self._network_id, their_nonce=ack.nonce, own_nonce=hello_nonce
        )
        await _write(writer, HelloFin(signature))
        return peer

    @staticmethod
    async def _watch(connection: _Outbound) -> None:
        """Return as soon as the peer ends CONNECTION (idle timeout, restart), so that it leaves
        the pool and the next send reconnects instead of writing into a dead socket. The
        answering node never writes after HELLO_ACK, so any byte read ends it too."""
        with contextlib.suppress(OSError):
            await connection.reader.read(1)

    def _unpool(self, address: Address, link: _Link, connection: _Outbound) -> None:
        self._drop(link, connection)
        self._forget_if_unused(address, link)
        logger.debug("connection to %s at %s:%s ended", _describe(connection.peer), *address)

    def _drop(self, link: _Link, connection: _Outbound) -> None:
        connection.writer.close()
        if link.connection is connection:
            link.connection = None
        if connection.watcher is not None:
            connection.watcher.cancel()

    def _forget_if_unused(self, address: Address, link: _Link) -> None:
        if not link.senders and link.connection is None and self._links.get(address) is link:
            del self._links[address]

    def _send_failed(self, reason: Reason, address: Address, detail: str) -> bool:
        self.send_failures[reason] += 1
        logger.debug("send to %s:%s failed (%s): %s", *address, reason, detail)
        return False

    # Receiving.

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Admit a new inbound connection or close it at once, before any byte is read."""
        ip = source_ip(writer.get_extra_info("peername"))
        if self._closed or ip is None:  # closing, or the peer left before it was looked at
            writer.close()
            return
        refusal = self._admission_refusal(ip)
        if refusal is not None:
            self._count(refusal, f"connection from {ip} closed at once")
            writer.close()
            return
        self._inbound_per_ip[ip] += 1
        task = asyncio.create_task(self._serve(reader, writer, ip))
        self._inbound.add(task)
        task.add_done_callback(lambda _: self._release(task, writer, ip))

    def _admission_refusal(self, ip: IPAddress) -> Reason | None:
        if len(self._inbound) >= self._limits.max_inbound_connections:
            return Reason.TOO_MANY_CONNECTIONS
        if self._inbound_per_ip[ip] >= self._limits.max_inbound_connections_per_ip:
            return Reason.TOO_MANY_CONNECTIONS_FROM_IP
        if not self._block_connections.take(address_block(ip)):
            return Reason.CONNECTION_RATE_LIMITED
        return None

    def _release(
        self, task: asyncio.Task[None], writer: asyncio.StreamWriter, ip: IPAddress
    ) -> None:
        # A done callback, not a finally: it also runs for a task cancelled before it started.
        self._inbound.discard(task)
        self._inbound_per_ip[ip] -= 1
        if not self._inbound_per_ip[ip]:
            del self._inbound_per_ip[ip]
        writer.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ip: IPAddress
    ) -> None:
        """Handshake with an inbound caller, then deliver its messages in order until it breaks
        a rule, falls silent or leaves. No exception escapes."""
        try:
            async with asyncio.timeout(self._limits.handshake_timeout):
                sender = await self._answer(reader, writer)
            logger.debug("accepted %s from %s", _describe(sender), ip)
            await self._receive(sender, reader)
        except ConnectionClosed:
            logger.debug("connection from %s closed by the peer", ip)
        except (_Refusal, WireError, OSError) as error:
            self._count(_reason_for(error), f"connection from {ip} closed: {error}")
        except Exception:
            logger.exception("connection from %s failed", ip)

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> NodeRecord:
        """The answering side of the handshake: the caller's verified record."""
        try:
            # Only a HELLO body is read before the handshake, never a 1 MiB SYNC.
            frame = await read_frame(
                reader, timeout=self._limits.handshake_timeout, expect=(FrameType.HELLO,)
            )
        except UnexpectedFrame as error:
            raise _Refusal(Reason.NOT_HELLO_FIRST, str(error)) from None
        hello = Hello.decode(frame.body)
        if hello.network_id != self._network_id:
            await _refuse(writer, ErrCode.WRONG_NETWORK, "this node belongs to another network")
            raise _Refusal(Reason.WRONG_NETWORK, f"network {hello.network_id.hex()[:16]}")
        if hello.wire_version != WIRE_VERSION:
            await _refuse(writer, ErrCode.WRONG_VERSION, f"wire version {WIRE_VERSION} only")
            raise _Refusal(Reason.WRONG_VERSION, f"wire version {hello.wire_version}")
        try:
            caller = self._open_record(hello.record)
        except _Refusal:
            await _refuse(writer, ErrCode.BAD_RECORD, "the record in HELLO is refused")
            raise
        ack_nonce = new_nonce()
        signature = sign_hello_ack(
            self._key, network_id=self._network_id, their_nonce=hello.nonce, own_nonce=ack_nonce
        )
        await _write(writer, HelloAck(ack_nonce, signature, self._own_record()))
        frame = await read_frame(
            reader, timeout=self._limits.handshake_timeout, expect=(FrameType.HELLO_FIN,)
        )
        if frame.frame_type is not FrameType.HELLO_FIN:
            raise _Refusal(Reason.BAD_HANDSHAKE, f"{frame.frame_type.name} instead of HELLO_FIN")
        try:
            verify_hello_fin(
                caller.public_key,
                network_id=self._network_id,
                ack_nonce=ack_nonce,
                hello_nonce=hello.nonce,
                fin=HelloFin.decode(frame.body),
            )
        except WireError as error:
            raise _Refusal(Reason.BAD_HANDSHAKE, str(error)) from None
        return caller

    async def _receive(self, sender: NodeRecord, reader: asyncio.StreamReader) -> None:
        while True:
            frame = await read_frame(reader, timeout=self._limits.idle_timeout)
            if self._banned(sender.node_id):  # banned since the connection was opened
                raise _Refusal(Reason.BANNED, f"{_describe(sender)} is banned")
            if frame.frame_type in _HANDSHAKE_FRAME_TYPES:
                raise _Refusal(
                    Reason.UNEXPECTED_MESSAGE, f"{frame.frame_type.name} after the handshake"
                )
            # Checked before decoding, so a flood costs no more than reading it.
            if not self._peer_frames.take(sender.node_id):
                self._count(
                    Reason.RATE_LIMITED, f"{frame.frame_type.name} from {_describe(sender)}"
                )
                continue
            if frame.frame_type is FrameType.SYNC and not self._syncs.take(FrameType.SYNC):
                self._count(Reason.SYNC_LIMITED, f"SYNC from {_describe(sender)}")
                continue
            await self._deliver_safely(sender, message_of(frame))

    async def _deliver_safely(self, sender: NodeRecord, message: Message) -> None:
        try:
            delivered = self._deliver(sender, message)
            if inspect.isawaitable(delivered):
                await delivered
        except Exception:
            # A bug on this side must not cost the peer its connection.
            logger.exception(
                "delivering %s from %s failed", type(message).__name__, _describe(sender)
            )

    # Shared.

    def _open_record(self, raw: bytes) -> NodeRecord:
        try:
            record = open_record(raw, network_id=self._network_id)
        except RecordError as error:
            raise _Refusal(Reason.BAD_RECORD, str(error)) from None
        if self._banned(record.node_id):
            raise _Refusal(Reason.BANNED, f"{_describe(record)} is banned")
        return record

    def _own_record(self) -> bytes:
        return self._record().raw

    def _count(self, reason: Reason, detail: str) -> None:
        self.stats[reason] += 1
        logger.debug("%s: %s", reason, detail)


async def _write(writer: asyncio.StreamWriter, message: Message) -> None:
    writer.write(encode_frame(frame_of(message)))
    await writer.drain()


async def _refuse(writer: asyncio.StreamWriter, code: ErrCode, message: str) -> None:
    """Tell an honest but misconfigured caller why it is refused; the connection closes after."""
    with contextlib.suppress(OSError):
        await _write(writer, Err(code, message))


def _reason_for(error: Exception) -> Reason:
    if isinstance(error, _Refusal):
        return error.reason
    if isinstance(error, WireError):
        if isinstance(error.__cause__, TimeoutError):
            return Reason.TIMEOUT
        if isinstance(error, FrameTooLarge):
            return Reason.OVERSIZED_FRAME
        if isinstance(error, UnexpectedFrame):
            return Reason.BAD_HANDSHAKE
        return Reason.MALFORMED_FRAME
    if isinstance(error, TimeoutError):
        return Reason.TIMEOUT
    return Reason.CONNECTION_ERROR


def _describe(record: NodeRecord) -> str:
    return f"{record.name!r} ({record.node_id.hex()[:16]})"
