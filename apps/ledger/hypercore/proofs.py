"""Proofs that a block belongs to a log, and that the log grew to a signed length.

Built and checked the way Hypercore 11 does it (lib/merkle-tree.js), node for node, so a proof
made here verifies in Hypercore and the other way round:

- a *block* proof carries the block and the sibling ("uncle") of every node on the path from its
  leaf up to a node the reader trusts (or, inside an upgrade, up to a new root);
- an *upgrade* proof carries what a reader of length `start` needs to rebuild the roots of length
  `start + length`, the writer's signature, and, when the writer is longer still,
  `additional_nodes` reaching the length that the signature covers.

Building is split in two: `plan_proof` names the node indexes (pure arithmetic, so storage can
fetch them in one query), `assemble_proof` fills them in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import flat_tree
from .crypto import HASH_BYTES, Node, leaf_node, parent_node, tree_hash
from .errors import InvalidProof, InvalidRequest
from .signing import LogKeys, verify
from .tree import TreeBatch

MAX_REQUEST_NODES = 64  # a tree of 2**63 blocks is 64 levels high


@dataclass(frozen=True)
class BlockRequest:
    index: int
    nodes: int = 0  # how many ancestor levels the reader does not have


@dataclass(frozen=True)
class UpgradeRequest:
    start: int
    length: int


@dataclass(frozen=True)
class BlockProof:
    index: int
    value: bytes
    nodes: list[Node]


@dataclass(frozen=True)
class UpgradeProof:
    start: int
    length: int
    nodes: list[Node]
    additional_nodes: list[Node]
    signature: bytes


@dataclass(frozen=True)
class Proof:
    fork: int
    block: BlockProof | None = None
    upgrade: UpgradeProof | None = None


@dataclass
class ProofPlan:
    """The node indexes a proof is made of, in the order they are sent."""

    block: list[int] | None = None
    upgrade: list[int] | None = None
    additional: list[int] | None = None

    def indexes(self) -> set[int]:
        return {i for part in (self.block, self.upgrade, self.additional) for i in part or ()}


# -- building ---------------------------------------------------------------------------------


def plan_proof(
    length: int, *, block: BlockRequest | None = None, upgrade: UpgradeRequest | None = None
) -> ProofPlan:
    """Which nodes answer BLOCK and/or UPGRADE for a log of LENGTH (Hypercore's proof())."""
    if block is None and upgrade is None:
        raise InvalidRequest("a proof needs a block request, an upgrade request, or both")
    head = 2 * length
    start = 2 * upgrade.start if upgrade else 0
    end = start + 2 * upgrade.length if upgrade else head
    if upgrade and (upgrade.start < 0 or upgrade.length < 1):
        raise InvalidRequest("an upgrade needs start >= 0 and length >= 1")
    if start >= end or end > head:
        raise InvalidRequest(f"the log has {length} blocks; cannot prove up to {end // 2}")
    if block is not None:
        _check_block_request(block, end)

    plan = ProofPlan()
    sub_tree = head
    if block is not None and (upgrade is None or block.index < upgrade.start):
        sub_tree = _nodes_to_root(2 * block.index, block.nodes, end)
        plan.block = _uncles(2 * block.index, sub_tree)
    elif block is not None:
        sub_tree = 2 * block.index
    if upgrade is not None:
        _plan_upgrade(plan, block, start, end, sub_tree)
        if head > end:
            plan.additional = _connecting_nodes(end, head)
    return plan


def _check_block_request(block: BlockRequest, end: int) -> None:
    if block.index < 0 or 2 * block.index >= end:
        raise InvalidRequest(f"block {block.index} is outside the proven range of {end // 2}")
    if not 0 <= block.nodes <= MAX_REQUEST_NODES:
        raise InvalidRequest(f"nodes must be between 0 and {MAX_REQUEST_NODES}")


def _nodes_to_root(index: int, levels: int, head: int) -> int:
    cursor = flat_tree.TreeCursor(index)
    for _ in range(levels):
        cursor.parent()
        if cursor.contains(head):
            raise InvalidRequest("nodes reaches beyond the log's roots")
    return cursor.index


def _uncles(leaf: int, root: int) -> list[int]:
    """Siblings on the path from LEAF up to ROOT, bottom-up."""
    cursor = flat_tree.TreeCursor(leaf)
    uncles = []
    while cursor.index != root:
        uncles.append(cursor.sibling())
        cursor.parent()
    return uncles


def _plan_upgrade(plan: ProofPlan, block, start: int, end: int, sub_tree: int) -> None:
    if start == 0:
        plan.upgrade = []
    cursor = flat_tree.TreeCursor(0)
    while cursor.full_root(end):
        if cursor.index + cursor.factor // 2 < start:
            pass  # the reader has this root already
        elif plan.upgrade is None and cursor.contains(start - 2):
            plan.upgrade = []
            root, target = cursor.index, start - 2
            cursor.seek(target)
            while cursor.index != root:
                cursor.sibling()
                if cursor.index > target:
                    _add_upgrade_node(plan, block, cursor.index, sub_tree)
                cursor.parent()
        else:
            if plan.upgrade is None:
                plan.upgrade = []
            _add_upgrade_node(plan, block, cursor.index, sub_tree)
        cursor.next_tree()


def _add_upgrade_node(plan: ProofPlan, block, index: int, sub_tree: int) -> None:
    # A requested block inside the upgrade sends its path up to this node instead of the node.
    if block is not None and plan.block is None and flat_tree.TreeCursor(index).contains(sub_tree):
        plan.block = _uncles(sub_tree, index)
    else:
        plan.upgrade.append(index)


def _connecting_nodes(start: int, end: int) -> list[int]:
    """The nodes that grow the roots of leaf end START into those of END (additionalNodes):
    an upgrade plan with no block in it."""
    plan = ProofPlan()
    _plan_upgrade(plan, None, start, end, sub_tree=end)
    return plan.upgrade or []


def assemble_proof(
    plan: ProofPlan,
    nodes: Callable[[int], Node],
    *,
    fork: int,
    block: BlockRequest | None,
    block_value: bytes | None,
    upgrade: UpgradeRequest | None,
    signature: bytes | None,
) -> Proof:
    """Fill PLAN with nodes (NODES looks one up by index) into the proof a reader receives."""
    block_proof = None
    if block is not None:
        if block_value is None:
            raise InvalidRequest(f"block {block.index} is not stored")
        block_proof = BlockProof(
            block.index, bytes(block_value), [nodes(i) for i in plan.block or []]
        )
    upgrade_proof = None
    if upgrade is not None:
        upgrade_proof = UpgradeProof(
            upgrade.start,
            upgrade.length,
            [nodes(i) for i in plan.upgrade or []],
            [nodes(i) for i in plan.additional or []],
            bytes(signature or b""),
        )
    return Proof(fork, block_proof, upgrade_proof)


# -- verifying --------------------------------------------------------------------------------


@dataclass
class VerifiedProof:
    """What a proof established: the new roots and length (if it upgraded), the block's root
    (to compare with a trusted node when the upgrade did not cover it), and every node seen."""

    roots: list[Node] | None
    length: int | None
    fork: int
    block_root: Node | None
    block_root_trusted: bool
    nodes: list[Node] = field(default_factory=list)


class _NodeQueue:
    """Proof nodes consumed in order, with one optional extra (the block path's root)."""

    def __init__(self, nodes: Sequence[Node], extra: Node | None = None) -> None:
        self.nodes = list(nodes)
        self.position = 0
        self.extra = extra

    def __len__(self) -> int:
        return len(self.nodes) - self.position + (self.extra is not None)

    def shift(self, index: int) -> Node:
        if self.extra is not None and self.extra.index == index:
            node, self.extra = self.extra, None
            return node
        if self.position >= len(self.nodes):
            raise InvalidProof(f"expected node {index}, the proof has no more nodes")
        node = self.nodes[self.position]
        self.position += 1
        if node.index != index:
            raise InvalidProof(f"expected node {index}, got node {node.index}")
        return node


def check_node(node: Node) -> Node:
    if (
        not isinstance(node.index, int)
        or not isinstance(node.size, int)
        or node.index < 0
        or node.size < 0
        or not isinstance(node.hash, bytes | bytearray)
        or len(node.hash) != HASH_BYTES
    ):
        raise InvalidProof(f"node {node.index!r} is malformed")
    return node


def verify_block_path(block: BlockProof, nodes: list[Node]) -> Node:
    """Hash BLOCK's value up through its uncles; return the top node (not yet trusted)."""
    if block.index < 0 or not isinstance(block.value, bytes | bytearray):
        raise InvalidProof("a block proof needs an index >= 0 and a value")
    current = leaf_node(2 * block.index, bytes(block.value))
    nodes.append(current)
    queue = _NodeQueue([check_node(n) for n in block.nodes])
    while len(queue):
        uncle = queue.shift(flat_tree.sibling(current.index))
        current = parent_node(flat_tree.parent(current.index), current, uncle)
        nodes.extend((uncle, current))
    return current


def verify_proof(
    proof: Proof, keys: LogKeys, *, trusted_roots: Sequence[Node] = ()
) -> VerifiedProof:
    """Check PROOF for a reader who trusts TRUSTED_ROOTS (its roots at upgrade.start).

    An upgrade is accepted only if the rebuilt roots' tree hash carries a valid signature; a
    block outside the upgrade comes back with block_root_trusted False, for the caller to match
    against a node it stored.
    """
    nodes: list[Node] = []
    block_root = verify_block_path(proof.block, nodes) if proof.block else None
    if proof.upgrade is None:
        return VerifiedProof(None, None, proof.fork, block_root, False, nodes)
    batch, consumed = _rebuild_roots(proof.upgrade, block_root, list(trusted_roots))
    verify(keys, proof.upgrade.signature, batch.tree_hash(), batch.length, proof.fork)
    nodes.extend(batch.nodes)
    return VerifiedProof(batch.roots, batch.length, proof.fork, block_root, consumed, nodes)


def _rebuild_roots(
    upgrade: UpgradeProof, block_root: Node | None, trusted: list[Node]
) -> tuple[TreeBatch, bool]:
    if upgrade.start < 0 or upgrade.length < 1:
        raise InvalidProof("an upgrade needs start >= 0 and length >= 1")
    if flat_tree.length_of_roots([r.index for r in trusted]) != upgrade.start:
        raise InvalidProof(f"the reader's roots do not cover length {upgrade.start}")
    batch = _ProofBatch.from_roots(trusted)
    queue = _NodeQueue([check_node(n) for n in upgrade.nodes], block_root)
    end = 2 * (upgrade.start + upgrade.length)
    cursor = flat_tree.TreeCursor(0)
    grow, matched = bool(trusted), 0
    while cursor.full_root(end):
        if matched < len(trusted) and trusted[matched].index == cursor.index:
            matched += 1
        elif grow and matched < len(trusted):
            grow = False
            root = cursor.index
            cursor.seek(batch.roots[-1].index)
            while cursor.index != root:
                batch.push(queue.shift(cursor.sibling()), cursor)
        else:
            grow = False
            batch.push(queue.shift(cursor.index), cursor)
        cursor.next_tree()
    if len(queue) - (queue.extra is not None):
        raise InvalidProof("the upgrade has nodes left over")
    _add_additional_nodes(batch, [check_node(n) for n in upgrade.additional_nodes])
    if [r.index for r in batch.roots] != flat_tree.full_roots(2 * batch.length):
        raise InvalidProof(f"the proof's roots are not the roots of length {batch.length}")
    return batch, queue.extra is None


def _add_additional_nodes(batch: _ProofBatch, extra: list[Node]) -> None:
    if not extra:
        return
    if not batch.roots:
        raise InvalidProof("additional nodes without roots to extend")
    cursor = flat_tree.TreeCursor(batch.roots[-1].index)
    i = 0
    while i < len(extra) and extra[i].index == cursor.sibling():
        batch.push(extra[i], cursor)
        i += 1
    while i < len(extra):
        node = extra[i]
        i += 1
        while node.index != cursor.index:
            if cursor.factor == 2:
                raise InvalidProof(f"unexpected additional node {node.index}")
            cursor.left_child()
        batch.push(node, cursor)
        cursor.sibling()


class _ProofBatch(TreeBatch):
    """A TreeBatch fed with whole subtree roots from a proof, moving a cursor as Hypercore does."""

    def push(self, node: Node, cursor: flat_tree.TreeCursor) -> None:
        first, last = flat_tree.spans(node.index)
        if first != 2 * self.length:
            raise InvalidProof(f"node {node.index} does not continue the tree at {self.length}")
        self._push_root(node, leaves=(last - first) // 2 + 1)
        cursor.seek(self.roots[-1].index)


def root_hash(roots: Sequence[Node]) -> bytes:
    return tree_hash(list(roots))
