"""Proofs built here verify; any tampering fails with a HypercoreError, never a crash."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.ledger.hypercore import flat_tree
from apps.ledger.hypercore.crypto import Node, key_pair
from apps.ledger.hypercore.errors import (
    ForkConflict,
    HypercoreError,
    InvalidProof,
    InvalidRequest,
    InvalidSignature,
)
from apps.ledger.hypercore.heads import HeadRelation, SignedHead, compare_heads
from apps.ledger.hypercore.proofs import (
    BlockRequest,
    UpgradeRequest,
    assemble_proof,
    plan_proof,
    verify_proof,
)
from apps.ledger.hypercore.signing import LogKeys, Mode, sign
from apps.ledger.hypercore.tree import TreeBatch

PAIR = key_pair(bytes(range(32)))


class MemoryLog:
    def __init__(self, blocks: list[bytes], mode: Mode = Mode.MANIFEST) -> None:
        self.keys = LogKeys.for_public_key(PAIR.public_key, mode)
        batch = TreeBatch([], 0, 0)
        batch.append_all(blocks)
        self.nodes = {n.index: n for n in batch.nodes}
        self.blocks = blocks
        self.length = batch.length
        self.signature = sign(self.keys, PAIR.secret_key, batch.tree_hash(), batch.length, 0)

    def roots_at(self, length: int) -> list[Node]:
        return [self.nodes[i] for i in flat_tree.full_roots(2 * length)]

    def proof(self, block: BlockRequest | None, upgrade: UpgradeRequest | None):
        plan = plan_proof(self.length, block=block, upgrade=upgrade)
        return assemble_proof(
            plan,
            self.nodes.__getitem__,
            fork=0,
            block=block,
            block_value=self.blocks[block.index] if block else None,
            upgrade=upgrade,
            signature=self.signature,
        )


@st.composite
def log_and_request(draw):
    length = draw(st.integers(min_value=1, max_value=70))
    blocks = [bytes([i % 256]) * draw(st.integers(0, 3)) for i in range(length)]
    start = draw(st.integers(min_value=0, max_value=length - 1))
    index = draw(st.integers(min_value=0, max_value=length - 1))
    mode = draw(st.sampled_from(list(Mode)))
    return MemoryLog(blocks, mode), start, index


@settings(max_examples=150, deadline=None)
@given(log_and_request())
def test_a_block_with_an_upgrade_from_any_length_verifies(case):
    log, start, index = case
    upgrade = UpgradeRequest(start, log.length - start)

    proof = log.proof(BlockRequest(index), upgrade)
    verified = verify_proof(proof, log.keys, trusted_roots=log.roots_at(start))

    assert verified.length == log.length
    assert verified.roots == log.roots_at(log.length)
    if not verified.block_root_trusted:
        assert log.nodes[verified.block_root.index] == verified.block_root


@settings(max_examples=150, deadline=None)
@given(log_and_request(), st.data())
def test_any_flipped_byte_in_a_proof_is_rejected(case, data):
    log, start, index = case
    proof = log.proof(BlockRequest(index), UpgradeRequest(start, log.length - start))
    tampered = _tamper(proof, data)

    with pytest.raises(HypercoreError):
        verified = verify_proof(tampered, log.keys, trusted_roots=log.roots_at(start))
        # A block proof that stops below the upgrade is checked against the stored node.
        stored = log.nodes.get(verified.block_root.index)
        if not verified.block_root_trusted and stored != verified.block_root:
            raise InvalidProof("block does not match the stored tree")


def _tamper(proof, data):
    targets = ["value", "signature"]
    targets += [f"block:{i}" for i in range(len(proof.block.nodes))]
    targets += [f"upgrade:{i}" for i in range(len(proof.upgrade.nodes))]
    target = data.draw(st.sampled_from(targets))
    if target == "value":
        value = proof.block.value or b"\x00"
        flipped = bytes([value[0] ^ 1]) + value[1:] if proof.block.value else b"x"
        return dataclasses.replace(proof, block=dataclasses.replace(proof.block, value=flipped))
    if target == "signature":
        sig = bytearray(proof.upgrade.signature)
        sig[data.draw(st.integers(0, len(sig) - 1))] ^= 1
        return dataclasses.replace(
            proof, upgrade=dataclasses.replace(proof.upgrade, signature=bytes(sig))
        )
    part, position = target.split(":")
    holder = proof.block if part == "block" else proof.upgrade
    nodes = list(holder.nodes)
    node = nodes[int(position)]
    if data.draw(st.booleans()):
        nodes[int(position)] = node._replace(hash=bytes([node.hash[0] ^ 1]) + node.hash[1:])
    else:
        nodes[int(position)] = node._replace(size=node.size + 1)
    changed = dataclasses.replace(holder, nodes=nodes)
    return dataclasses.replace(proof, **{part: changed})


@pytest.mark.parametrize(
    ("block", "upgrade"),
    [
        (BlockRequest(10), None),
        (BlockRequest(-1), None),
        (BlockRequest(2, nodes=65), None),
        (None, UpgradeRequest(0, 11)),
        (None, UpgradeRequest(10, 1)),
        (None, UpgradeRequest(-1, 2)),
        (None, None),
    ],
)
def test_requests_outside_the_log_are_refused(block, upgrade):
    log = MemoryLog([b"x"] * 10)

    with pytest.raises(InvalidRequest):
        plan_proof(log.length, block=block, upgrade=upgrade)


def test_a_proof_signed_by_another_key_is_refused():
    log = MemoryLog([b"a", b"b", b"c"])
    other = LogKeys.for_public_key(key_pair(b"\x09" * 32).public_key, Mode.MANIFEST)

    with pytest.raises(InvalidSignature):
        verify_proof(log.proof(None, UpgradeRequest(0, 3)), other)


def test_garbage_nodes_are_refused_not_crashed_on():
    log = MemoryLog([b"a", b"b", b"c"])
    proof = log.proof(None, UpgradeRequest(0, 3))
    bad = dataclasses.replace(
        proof, upgrade=dataclasses.replace(proof.upgrade, nodes=[Node(1, -5, b"short")])
    )

    with pytest.raises(InvalidProof):
        verify_proof(bad, log.keys)


def _head(log: MemoryLog, blocks: list[bytes], fork: int = 0) -> SignedHead:
    batch = TreeBatch([], 0, 0)
    batch.append_all(blocks)
    tree = batch.tree_hash()
    signature = sign(log.keys, PAIR.secret_key, tree, batch.length, fork)
    return SignedHead(batch.length, fork, tree, signature)


def test_two_valid_signatures_for_one_length_are_a_fork_conflict():
    log = MemoryLog([b"a"])
    ours, theirs = _head(log, [b"a", b"b"]), _head(log, [b"a", b"B"])

    with pytest.raises(ForkConflict) as conflict:
        compare_heads(log.keys, ours, theirs)

    assert (conflict.value.first, conflict.value.second) == (ours, theirs)


def test_heads_relate_by_fork_and_length():
    log = MemoryLog([b"a"])
    two, three = _head(log, [b"a", b"b"]), _head(log, [b"a", b"b", b"c"])
    truncated = _head(log, [b"a"], fork=1)

    assert compare_heads(log.keys, two, two) is HeadRelation.SAME
    assert compare_heads(log.keys, two, three) is HeadRelation.NEWER
    assert compare_heads(log.keys, three, two) is HeadRelation.OLDER
    assert compare_heads(log.keys, three, truncated) is HeadRelation.NEW_FORK
    assert compare_heads(log.keys, truncated, three) is HeadRelation.STALE_FORK
    with pytest.raises(InvalidSignature):
        compare_heads(log.keys, two, three._replace(signature=two.signature))
