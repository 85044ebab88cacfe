"""Pulling a followed book from a source node and verifying it, in plain Python (no Django): the
HTTP client of the public read API, the strict parsing of its answers, and the checks that make
a batch of blocks trustworthy before anything is stored.

A batch [start, end) is verified in one go: the follower appends the values to its own tree
(the roots it trusts at START) and gets the roots at END; if END is the head's length their tree
hash must carry the writer's signature, otherwise the upgrade proof from END must lead from those
roots to a signed head. Either way every value is exactly what the writer signed, for the cost
of hashing each block once (docs/protocol.md, "Replication").
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from .hypercore import flat_tree
from .hypercore.crypto import Node
from .hypercore.errors import HypercoreError
from .hypercore.proofs import (
    BlockProof,
    Proof,
    UpgradeProof,
    root_hash,
    verify_block_path,
    verify_proof,
)
from .hypercore.signing import LogKeys, Mode, verify
from .hypercore.tree import NODE_RECORD, TreeBatch

MAX_RESPONSE_BYTES = 24 * 1024 * 1024
MAX_RANGE_VALUES = 2000
USER_AGENT = "growr-node-replication/1"


class ReplicationError(Exception):
    """A source that cannot be trusted for this batch; FAULT is a ReplicationFault value."""

    def __init__(self, fault: str, detail: str) -> None:
        super().__init__(detail)
        self.fault = fault
        self.detail = detail


def _malformed(detail: str) -> ReplicationError:
    return ReplicationError("malformed", detail)


@dataclass(frozen=True)
class RemoteHead:
    length: int
    fork: int
    tree_hash: bytes
    signature: bytes


@dataclass(frozen=True)
class RemoteBook:
    public_key: bytes
    head: RemoteHead


@dataclass(frozen=True)
class RemoteRange:
    head: RemoteHead
    start: int
    values: list[bytes]
    upgrade: UpgradeProof | None


@dataclass(frozen=True)
class RemoteBlocks:
    """Blocks with a proof each (the read API's /blocks/), for a sparse follow."""

    head: RemoteHead
    upgrade: UpgradeProof | None
    blocks: list[BlockProof]


@dataclass(frozen=True)
class VerifiedBlock:
    index: int
    value: bytes
    # The leaf and the parents the block completed (hypercore.tree.NODE_RECORD each), as the
    # writer stores them: computed from the block's own proof.
    record: bytes


class HttpSource:
    """The read API of one node, on one kept-alive connection, with a deadline per request and
    a cap on the size of an answer."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        max_bytes: int = MAX_RESPONSE_BYTES,
        allow_private: bool = False,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ReplicationError("unreachable", f"{base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self._parts = parts
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._allow_private = allow_private
        self._connection: http.client.HTTPConnection | None = None

    def book(self, key: bytes) -> RemoteBook:
        return parse_book(self._get(f"/api/books/{key.hex()}/", {}), key=key)

    def range(self, key: bytes, start: int, end: int) -> RemoteRange:
        params = {"start": start, "end": end, "encoding": "binary"}
        body = self._get(f"/api/books/{key.hex()}/replication/", params, raw=True)
        return parse_binary_range(body, key=key)

    def blocks(self, key: bytes, start: int, end: int, *, since: int) -> RemoteBlocks:
        params = {"start": start, "end": end, "since": since}
        return parse_blocks(self._get(f"/api/books/{key.hex()}/blocks/", params), key=key)

    def wait_head(self, key: bytes, *, after: int, wait: float = 20.0) -> RemoteHead:
        """The head once the book is longer than AFTER, or after WAIT seconds (a long poll)."""
        answer = self._get(
            f"/api/books/{key.hex()}/head/", {"after": after, "wait": wait}, timeout=wait + 10
        )
        return parse_book(answer, key=key).head

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _get(
        self, path: str, params: dict, *, timeout: float | None = None, raw: bool = False
    ) -> dict | bytes:
        target = self._parts.path.rstrip("/") + path + (f"?{urlencode(params)}" if params else "")
        status, body = self._exchange("GET", target, None, timeout)
        if status != 200:
            raise ReplicationError(
                "unreachable" if status >= 500 else "malformed", f"GET {target}: HTTP {status}"
            )
        return body if raw else _json_object(body, f"GET {target}")

    def post_json(self, path: str, payload: dict) -> tuple[int, dict]:
        """POST PAYLOAD as JSON to PATH: the status and the JSON object answered, whatever the
        status (an API's refusal is an answer, not a failure of the node)."""
        target = self._parts.path.rstrip("/") + path
        status, body = self._exchange("POST", target, json.dumps(payload).encode(), None)
        if status >= 500:
            raise ReplicationError("unreachable", f"POST {target}: HTTP {status}")
        return status, _json_object(body, f"POST {target}")

    def _exchange(
        self, method: str, target: str, body: bytes | None, timeout: float | None
    ) -> tuple[int, bytes]:
        deadline = time.monotonic() + (timeout or self._timeout)
        headers = {"User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection = self._connect()
            connection.timeout = timeout or self._timeout
            if connection.sock is not None:
                connection.sock.settimeout(connection.timeout)
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, self._read(response, deadline)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise ReplicationError("unreachable", f"{method} {target}: {error!r}") from None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if not self._allow_private:
                _refuse_private(self._parts.hostname, self._parts.port)
            kind = (
                http.client.HTTPSConnection
                if self._parts.scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = kind(self._parts.hostname, self._parts.port, timeout=self._timeout)
        return self._connection

    def _read(self, response: http.client.HTTPResponse, deadline: float) -> bytes:
        declared = response.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            self.close()
            raise _malformed(f"an answer of {declared} bytes, over {self._max_bytes}")
        chunks, size = [], 0
        while chunk := response.read(256 * 1024):
            size += len(chunk)
            if size > self._max_bytes:
                self.close()
                raise _malformed(f"an answer over {self._max_bytes} bytes")
            if time.monotonic() > deadline:
                self.close()
                raise ReplicationError("unreachable", "the answer took longer than the deadline")
            chunks.append(chunk)
        return b"".join(chunks)


def _json_object(body: bytes, what: str) -> dict:
    try:
        answer = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise _malformed(f"{what}: not JSON ({error})") from None
    if not isinstance(answer, dict):
        raise _malformed(f"{what}: not a JSON object")
    return answer


def _refuse_private(host: str, port: int | None) -> None:
    """URLs come from other nodes' signed records too: a node must not be made to send
    requests into its own network (loopback, private, link-local addresses) unless its
    operator allows it (GROWR_FOLLOW_PRIVATE_SOURCES, on in local settings)."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port or 80)}
    except OSError as error:
        raise ReplicationError("unreachable", f"{host}: {error}") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            raise ReplicationError("unreachable", f"{host} is {ip}, not a public address")


# Parsing: every field checked, so a hostile answer fails here and not deep in the verifier.


def parse_book(answer: dict, *, key: bytes) -> RemoteBook:
    if _hex_field(answer, "key", 32) != key:
        raise ReplicationError("wrong_key", "the source answered for another book")
    public_key = _hex_field(answer, "public_key", 32)
    if LogKeys.for_public_key(public_key, Mode.MANIFEST).key != key:
        raise ReplicationError("wrong_key", "the writer's public key does not match the book key")
    return RemoteBook(public_key, parse_head(_object(answer, "head")))


def parse_head(head: dict) -> RemoteHead:
    length = _count(head, "length")
    signature = _hex_field(head, "signature", None)
    if length and len(signature) != 68:
        raise _malformed("a head's signature is a 68-byte manifest envelope")
    return RemoteHead(length, _count(head, "fork"), _hex_field(head, "tree_hash", 32), signature)


def parse_range(answer: dict, *, key: bytes) -> RemoteRange:
    if _hex_field(answer, "key", 32) != key:
        raise ReplicationError("wrong_key", "the source answered for another book")
    values = answer.get("values")
    if not isinstance(values, list) or not values:
        raise _malformed("values must be a non-empty list")
    try:
        blocks = [v if isinstance(v, bytes) else bytes.fromhex(v) for v in values]
    except (TypeError, ValueError):
        raise _malformed("values must be hex strings") from None
    upgrade = answer.get("upgrade")
    return RemoteRange(
        parse_head(_object(answer, "head")),
        _count(answer, "start"),
        blocks,
        None if upgrade is None else _upgrade(upgrade),
    )


def parse_binary_range(body: bytes, *, key: bytes) -> RemoteRange:
    """The binary form of a replication range: u32 length and a JSON header ({key, head, start,
    count, upgrade}), then COUNT values as u32 length and bytes."""
    view = memoryview(body)
    header_length = _u32(view, 0)
    try:
        header = json.loads(bytes(view[4 : 4 + header_length]))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise _malformed(f"the range header is not JSON ({error})") from None
    if not isinstance(header, dict):
        raise _malformed("the range header is not a JSON object")
    count = _count(header, "count")
    if not 1 <= count <= MAX_RANGE_VALUES:
        raise _malformed(f"a range holds 1 to {MAX_RANGE_VALUES} values, not {count}")
    values, at = [], 4 + header_length
    for _ in range(count):
        size = _u32(view, at)
        if at + 4 + size > len(view):
            raise _malformed("the range ends inside a value")
        values.append(bytes(view[at + 4 : at + 4 + size]))
        at += 4 + size
    if at != len(view):
        raise _malformed("bytes after the last value")
    return parse_range({**header, "values": values}, key=key)


def _u32(view: memoryview, at: int) -> int:
    if at + 4 > len(view):
        raise _malformed("the range ends inside a length")
    return int.from_bytes(view[at : at + 4], "big")


def parse_blocks(answer: dict, *, key: bytes) -> RemoteBlocks:
    if _hex_field(answer, "key", 32) != key:
        raise ReplicationError("wrong_key", "the source answered for another book")
    proofs = answer.get("blocks")
    if not isinstance(proofs, list) or not 1 <= len(proofs) <= MAX_RANGE_VALUES:
        raise _malformed(f"blocks must be a list of 1 to {MAX_RANGE_VALUES} proofs")
    upgrade = answer.get("upgrade")
    if upgrade is not None:
        upgrade = _upgrade(_object(upgrade, "upgrade") if isinstance(upgrade, dict) else upgrade)
    return RemoteBlocks(
        parse_head(_object(answer, "head")), upgrade, [_block_proof(p) for p in proofs]
    )


def _block_proof(proof) -> BlockProof:
    if not isinstance(proof, dict):
        raise _malformed("a block proof must be an object")
    block = _object(proof, "block")
    return BlockProof(
        _count(block, "index"), _hex_field(block, "value", None), _nodes(block, "nodes")
    )


def _upgrade(upgrade) -> UpgradeProof:
    if not isinstance(upgrade, dict):
        raise _malformed("upgrade must be an object or null")
    return UpgradeProof(
        start=_count(upgrade, "start"),
        length=_count(upgrade, "length"),
        nodes=_nodes(upgrade, "nodes"),
        additional_nodes=_nodes(upgrade, "additionalNodes"),
        signature=_hex_field(upgrade, "signature", 68),
    )


def _nodes(parent: dict, name: str) -> list[Node]:
    nodes = parent.get(name)
    if not isinstance(nodes, list) or len(nodes) > 256:
        raise _malformed(f"{name} must be a list of at most 256 nodes")
    parsed = []
    for node in nodes:
        if not isinstance(node, dict):
            raise _malformed(f"{name} holds a node that is not an object")
        parsed.append(
            Node(_count(node, "index"), _count(node, "size"), _hex_field(node, "hash", 32))
        )
    return parsed


def _object(parent: dict, name: str) -> dict:
    value = parent.get(name)
    if not isinstance(value, dict):
        raise _malformed(f"{name} must be an object")
    return value


def _count(parent: dict, name: str) -> int:
    value = parent.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise _malformed(f"{name} must be a whole number from 0")
    return value


def _hex_field(parent: dict, name: str, size: int | None) -> bytes:
    value = parent.get(name)
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise _malformed(f"{name} must be hex") from None
    if size is not None and len(raw) != size:
        raise _malformed(f"{name} must be {size} bytes, got {len(raw)}")
    return raw


# Verifying.


def verify_head(keys: LogKeys, head: RemoteHead) -> None:
    if head.length == 0:
        return
    try:
        verify(keys, head.signature, head.tree_hash, head.length, head.fork)
    except HypercoreError as error:
        raise ReplicationError("bad_signature", f"head {head.length}: {error}") from None


def verify_batch(keys: LogKeys, trusted: TreeBatch, answer: RemoteRange, *, fork: int) -> TreeBatch:
    """Append ANSWER's values to TRUSTED (the roots at answer.start) and prove the result
    against ANSWER's signed head; the batch with the new nodes and records, or ReplicationError
    naming what failed. TRUSTED is not changed."""
    head = answer.head
    verify_head(keys, head)  # before anything else: an unsigned head decides nothing
    if answer.start != trusted.length:
        raise _malformed(f"the batch starts at {answer.start}, not at {trusted.length}")
    end = answer.start + len(answer.values)
    if head.fork != fork:
        raise ReplicationError("fork", f"the head is on fork {head.fork}, ours on {fork}")
    if end > head.length:
        raise _malformed(f"blocks up to {end} beyond the head's {head.length}")
    batch = TreeBatch(list(trusted.roots), trusted.length, trusted.byte_length, fork)
    try:
        batch.append_all(answer.values)
    except ValueError as error:
        raise _malformed(str(error)) from None
    if end == head.length:
        if answer.upgrade is not None:
            raise _malformed("an upgrade for a batch that ends at the head")
        if batch.tree_hash() != head.tree_hash:
            raise ReplicationError(
                "bad_proof", f"blocks [{answer.start}, {end}) are not the signed ones"
            )
        return batch
    upgrade = answer.upgrade
    if upgrade is None or (upgrade.start, upgrade.start + upgrade.length) != (end, head.length):
        raise _malformed(f"the batch needs an upgrade from {end} to {head.length}")
    if upgrade.signature != head.signature:
        raise _malformed("the upgrade is signed by another head than the one sent")
    try:
        proven = verify_proof(Proof(fork, None, upgrade), keys, trusted_roots=batch.roots)
    except HypercoreError as error:
        raise ReplicationError("bad_proof", f"blocks [{answer.start}, {end}): {error}") from None
    if proven.length != head.length or root_hash(proven.roots) != head.tree_hash:
        raise ReplicationError("bad_proof", "the upgrade proves another head than the one sent")
    return batch


def verify_book(
    source: HttpSource, key: bytes, *, batch_blocks: int = MAX_RANGE_VALUES
) -> RemoteHead:
    """Verify SOURCE's copy of book KEY from its first block, as a reader who trusts nothing but
    the key: the writer's public key must hash to KEY, and every block, fetched a batch at a
    time, must lead to a head the writer signed. The head verified up to, or ReplicationError."""
    book = source.book(key)
    keys = LogKeys.for_public_key(book.public_key, Mode.MANIFEST)
    verify_head(keys, book.head)
    fork = book.head.fork
    trusted, head = TreeBatch([], 0, 0, fork), book.head
    while trusted.length < head.length:
        answer = source.range(key, trusted.length, min(trusted.length + batch_blocks, head.length))
        batch = verify_batch(keys, trusted, answer, fork=fork)
        trusted, head = TreeBatch(batch.roots, batch.length, batch.byte_length, fork), answer.head
    return head


def verify_blocks(
    keys: LogKeys, trusted: TreeBatch, answer: RemoteBlocks, *, fork: int
) -> tuple[list[Node], list[VerifiedBlock]]:
    """Check a sparse follow's answer for a reader that trusts the roots TRUSTED: the upgrade
    leads from them to the signed head, and every block hashes up through its own uncles to one
    of the head's roots. Returns the head's roots and the blocks with their records."""
    head = answer.head
    verify_head(keys, head)
    if head.fork != fork:
        raise ReplicationError("fork", f"the head is on fork {head.fork}, ours on {fork}")
    roots = trusted.roots
    if answer.upgrade is not None:
        try:
            proven = verify_proof(Proof(fork, None, answer.upgrade), keys, trusted_roots=roots)
        except HypercoreError as error:
            raise ReplicationError("bad_proof", f"the upgrade: {error}") from None
        roots = proven.roots
    if flat_tree.length_of_roots([r.index for r in roots]) != head.length:
        raise _malformed(f"the proofs do not reach the head's length {head.length}")
    if root_hash(roots) != head.tree_hash:
        raise ReplicationError("bad_proof", "the upgrade proves another head than the one sent")
    by_index = {root.index: root for root in roots}
    return roots, [_verified_block(block, by_index) for block in answer.blocks]


def _verified_block(block: BlockProof, roots: dict[int, Node]) -> VerifiedBlock:
    path: list[Node] = []
    try:
        top = verify_block_path(block, path)
    except HypercoreError as error:
        raise ReplicationError("bad_proof", f"block {block.index}: {error}") from None
    if roots.get(top.index) != top:
        raise ReplicationError("bad_proof", f"block {block.index} does not hash to a signed root")
    # The path alternates node, uncle, parent…: the parents it completed are the first ones up,
    # one per trailing 1 bit of its index (hypercore.tree.TreeBatch.append_all).
    completed = (block.index ^ (block.index + 1)).bit_length() - 1
    nodes = [path[0], *(path[2 * depth] for depth in range(1, completed + 1))]
    record = b"".join(NODE_RECORD.pack(node.size, node.hash) for node in nodes)
    return VerifiedBlock(block.index, bytes(block.value), record)
