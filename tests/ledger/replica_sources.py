"""A writer's book in memory, answering as a node's read API would (apps/ledger/api.py), and
sources that lie in one way each: what the follow tests pull from."""

from __future__ import annotations

import dataclasses
import json

from apps.ledger.hypercore.crypto import key_pair
from apps.ledger.hypercore.proofs import BlockRequest, UpgradeRequest, assemble_proof, plan_proof
from apps.ledger.hypercore.signing import LogKeys, Mode, Signer
from apps.ledger.hypercore.tree import TreeBatch
from apps.ledger.replication import (
    RemoteBlocks,
    RemoteBook,
    RemoteHead,
    RemoteRange,
    ReplicationError,
)
from apps.ledger.selectors import levels_to_root


def entry(n: int, kind: str = "growr/project") -> bytes:
    value = {"title": f"Project {n}", "amount": f"{1000 + n}.00", "currency": "KES"}
    return json.dumps({"type": kind, "v": 1, "key": f"project:{n}", "value": value}).encode()


class MemoryBook:
    """Amani's projects book: a real Hypercore log, signed after every append."""

    def __init__(self, seed: bytes = b"amani-projects".ljust(32, b"\0")) -> None:
        pair = key_pair(seed)
        self.keys = LogKeys.for_public_key(pair.public_key, Mode.MANIFEST)
        self.key = self.keys.key
        self._signer = Signer(self.keys, pair.secret_key)
        self.tree = TreeBatch([], 0, 0)
        self.values: list[bytes] = []
        self.nodes = {}
        self.heads: list[RemoteHead] = [RemoteHead(0, 0, self.tree.tree_hash(), b"")]

    def append(self, values: list[bytes]) -> RemoteHead:
        self.tree.append_all(values)
        self.values += values
        self.nodes.update({n.index: n for n in self.tree.nodes})
        tree_hash = self.tree.tree_hash()
        head = RemoteHead(
            self.tree.length, 0, tree_hash, self._signer.sign(tree_hash, self.tree.length, 0)
        )
        self.heads.append(head)
        return head

    @property
    def head(self) -> RemoteHead:
        return self.heads[-1]


@dataclasses.dataclass
class HonestSource:
    """A node serving WRITER's book faithfully (what apps/ledger/api.py answers)."""

    writer: MemoryBook
    base_url: str = "http://amani.example"
    requests: int = 0

    def book(self, key: bytes) -> RemoteBook:
        self.requests += 1
        if key != self.writer.key:
            raise ReplicationError("malformed", "HTTP 404")
        return RemoteBook(self.writer.keys.public_key, self.writer.head)

    def range(self, key: bytes, start: int, end: int) -> RemoteRange:
        self.requests += 1
        head = self.writer.head
        upgrade = None
        if end < head.length:
            request = UpgradeRequest(end, head.length - end)
            proof = assemble_proof(
                plan_proof(head.length, upgrade=request),
                self.writer.nodes.__getitem__,
                fork=0,
                block=None,
                block_value=None,
                upgrade=request,
                signature=head.signature,
            )
            upgrade = proof.upgrade
        return RemoteRange(head, start, list(self.writer.values[start:end]), upgrade)

    def blocks(self, key: bytes, start: int, end: int, *, since: int) -> RemoteBlocks:
        self.requests += 1
        head = self.writer.head
        upgrade = None
        if since < head.length:
            request = UpgradeRequest(since, head.length - since)
            upgrade = self._assemble(plan_proof(head.length, upgrade=request), None, request)
        proofs = []
        for index in range(start, end):
            request = BlockRequest(index, levels_to_root(index, head.length))
            plan = plan_proof(head.length, block=request)
            proofs.append(self._assemble(plan, request, None).block)
        return RemoteBlocks(head, upgrade and upgrade.upgrade, proofs)

    def _assemble(self, plan, block, upgrade):
        return assemble_proof(
            plan,
            self.writer.nodes.__getitem__,
            fork=0,
            block=block,
            block_value=self.writer.values[block.index] if block else None,
            upgrade=upgrade,
            signature=self.writer.head.signature,
        )

    def close(self) -> None:
        pass


class LyingSource(HonestSource):
    """Serves the book honestly except for one lie, applied to every range answer."""

    def __init__(self, writer: MemoryBook, lie, base_url: str = "http://mallory.example"):
        super().__init__(writer, base_url)
        self.lie = lie

    def range(self, key: bytes, start: int, end: int) -> RemoteRange:
        return self.lie(super().range(key, start, end))

    def blocks(self, key: bytes, start: int, end: int, *, since: int) -> RemoteBlocks:
        return self.lie(super().blocks(key, start, end, since=since))
