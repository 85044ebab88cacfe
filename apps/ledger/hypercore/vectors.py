"""Conformance with the real Hypercore: replay a vectors file made by hypercore@11 and compare.

The file format is that of ../shared/vectors/hypercore-v11.json: a seed, and per mode (compat,
manifest) the expected keys, the appended batches with their tree hash, signable and signature,
the leaf hash of every block, and proofs (request and the proof hypercore produced).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from . import flat_tree
from .crypto import Node, discovery_key, key_pair, leaf_hash
from .errors import HypercoreError
from .proofs import (
    BlockRequest,
    Proof,
    UpgradeRequest,
    assemble_proof,
    plan_proof,
    verify_proof,
)
from .signing import LogKeys, Mode, sign, signable
from .tree import TreeBatch


class VectorMismatch(Exception):
    """What this implementation computed differs from what Hypercore wrote in the file."""


@dataclass
class _Log:
    keys: LogKeys
    secret_key: bytes
    nodes: dict[int, Node]
    blocks: list[bytes]
    signatures: dict[int, bytes]
    batch: TreeBatch

    def roots_at(self, length: int) -> list[Node]:
        return [self.nodes[i] for i in flat_tree.full_roots(2 * length)]


def check_vectors(data: dict) -> Iterator[str]:
    """Check every mode of DATA; yield one line per passed check, raise VectorMismatch on the
    first difference, naming it."""
    try:
        seed = bytes.fromhex(data["seedHex"])
        modes = data["modes"]
    except (KeyError, TypeError, ValueError) as exc:
        raise VectorMismatch(f"not a vectors file: {exc!r}") from exc
    for mode_name, vectors in modes.items():
        try:
            mode = Mode(mode_name)
        except ValueError as exc:
            raise VectorMismatch(f"unknown mode {mode_name!r}") from exc
        yield from _check_mode(mode, seed, vectors)


def _same(what: str, expected: str, actual: bytes) -> str:
    if bytes(actual).hex() != expected:
        raise VectorMismatch(f"{what}: expected {expected}, computed {bytes(actual).hex()}")
    return f"{what} ok"


def _check_mode(mode: Mode, seed: bytes, vectors: dict) -> Iterator[str]:
    pair = key_pair(seed)
    keys = LogKeys.for_public_key(pair.public_key, mode)
    m = mode.value
    yield _same(f"{m}: public key", vectors["publicKey"], pair.public_key)
    yield _same(f"{m}: key", vectors["key"], keys.key)
    yield _same(f"{m}: discovery key", vectors["discoveryKey"], discovery_key(keys.key))
    log = _Log(keys, pair.secret_key, {}, [], {}, TreeBatch([], 0, 0))
    for number, append in enumerate(vectors["appends"]):
        yield from _check_append(log, f"{m}: append {number}", append)
    for index, expected in enumerate(vectors.get("blockHashes", [])):
        yield _same(f"{m}: leaf hash of block {index}", expected, leaf_hash(log.blocks[index]))
    for number, case in enumerate(vectors.get("proofs", [])):
        yield from _check_proof(log, f"{m}: proof {number}", case)


def _check_append(log: _Log, what: str, append: dict) -> Iterator[str]:
    blocks = [bytes.fromhex(b) for b in append["blocks"]]
    log.batch.append_all(blocks)
    log.blocks.extend(blocks)
    for node in log.batch.nodes:
        log.nodes[node.index] = node
    log.batch.nodes.clear()
    batch = log.batch
    if (batch.length, batch.fork) != (append["length"], append["fork"]):
        raise VectorMismatch(
            f"{what}: length/fork {append['length']}/{append['fork']} expected, "
            f"{batch.length}/{batch.fork} computed"
        )
    tree = batch.tree_hash()
    yield _same(f"{what} tree hash (length {batch.length})", append["treeHash"], tree)
    yield _same(
        f"{what} signable", append["signable"], signable(log.keys, tree, batch.length, batch.fork)
    )
    signature = sign(log.keys, log.secret_key, tree, batch.length, batch.fork)
    yield _same(f"{what} signature", append["signature"], signature)
    log.signatures[batch.length] = signature


def _requests(request: dict) -> tuple[BlockRequest | None, UpgradeRequest | None]:
    block = request.get("block")
    upgrade = request.get("upgrade")
    return (
        BlockRequest(block["index"], block.get("nodes", 0)) if block else None,
        UpgradeRequest(upgrade["start"], upgrade["length"]) if upgrade else None,
    )


# What this node builds and verifies. Hypercore's hash, seek and manifest parts are not among
# them: a file that uses them is refused by name, never passed with those parts unchecked.
CHECKED_REQUEST_PARTS = {"block", "upgrade"}
CHECKED_PROOF_PARTS = {"fork", "block", "upgrade"}


def _refuse_unchecked_parts(what: str, case: dict) -> None:
    for name, checked in (("request", CHECKED_REQUEST_PARTS), ("proof", CHECKED_PROOF_PARTS)):
        unchecked = sorted(k for k, v in case[name].items() if v is not None and k not in checked)
        if unchecked:
            raise VectorMismatch(
                f"{what}: the {name} has {', '.join(unchecked)}, which this checker does not "
                f"check (it checks {', '.join(sorted(checked))})"
            )


def _check_proof(log: _Log, what: str, case: dict) -> Iterator[str]:
    _refuse_unchecked_parts(what, case)
    block, upgrade = _requests(case["request"])
    length = log.batch.length
    plan = plan_proof(length, block=block, upgrade=upgrade)
    proof = assemble_proof(
        plan,
        log.nodes.__getitem__,
        fork=log.batch.fork,
        block=block,
        block_value=log.blocks[block.index] if block else None,
        upgrade=upgrade,
        signature=log.signatures[length],
    )
    expected = case["proof"]
    _compare_proof(what, expected, proof)
    yield f"{what} built node for node"
    _verify_expected(log, what, expected, block, upgrade)
    yield f"{what} verified"


def _compare_proof(what: str, expected: dict, proof: Proof) -> None:
    if expected.get("fork", 0) != proof.fork:
        raise VectorMismatch(f"{what}: fork {expected.get('fork')} expected, got {proof.fork}")
    if (expected.get("block") is None) != (proof.block is None):
        raise VectorMismatch(f"{what}: block part present in only one of the proofs")
    if proof.block is not None:
        _same(f"{what} block value", expected["block"]["value"], proof.block.value)
        _compare_nodes(f"{what} block nodes", expected["block"]["nodes"], proof.block.nodes)
    if (expected.get("upgrade") is None) != (proof.upgrade is None):
        raise VectorMismatch(f"{what}: upgrade part present in only one of the proofs")
    if proof.upgrade is not None:
        up = expected["upgrade"]
        _compare_nodes(f"{what} upgrade nodes", up["nodes"], proof.upgrade.nodes)
        _compare_nodes(
            f"{what} additional nodes", up["additionalNodes"], proof.upgrade.additional_nodes
        )
        _same(f"{what} upgrade signature", up["signature"], proof.upgrade.signature)


def _compare_nodes(what: str, expected: list[dict], actual: list[Node]) -> None:
    want = [(n["index"], n["size"], n["hash"]) for n in expected]
    got = [(n.index, n.size, n.hash.hex()) for n in actual]
    if want != got:
        raise VectorMismatch(f"{what}: expected {want}, built {got}")


def parse_proof(data: dict) -> Proof:
    """A proof in the vectors' (and the read API's) JSON form."""
    from .proofs import BlockProof, UpgradeProof

    def nodes(items: list[dict]) -> list[Node]:
        return [Node(n["index"], n["size"], bytes.fromhex(n["hash"])) for n in items]

    block = data.get("block")
    upgrade = data.get("upgrade")
    return Proof(
        data.get("fork", 0),
        BlockProof(block["index"], bytes.fromhex(block["value"]), nodes(block["nodes"]))
        if block
        else None,
        UpgradeProof(
            upgrade["start"],
            upgrade["length"],
            nodes(upgrade["nodes"]),
            nodes(upgrade["additionalNodes"]),
            bytes.fromhex(upgrade["signature"]),
        )
        if upgrade
        else None,
    )


def _verify_expected(log: _Log, what: str, expected: dict, block, upgrade) -> None:
    try:
        proof = parse_proof(expected)
        trusted = log.roots_at(upgrade.start) if upgrade else []
        verified = verify_proof(proof, log.keys, trusted_roots=trusted)
    except (HypercoreError, KeyError, TypeError, ValueError) as exc:
        raise VectorMismatch(f"{what}: Hypercore's proof does not verify: {exc}") from exc
    if verified.block_root is not None and not verified.block_root_trusted:
        stored = log.nodes.get(verified.block_root.index)
        if stored != verified.block_root:
            raise VectorMismatch(
                f"{what}: block {block.index} hashes to node {verified.block_root.index}, "
                "which differs from the stored one"
            )
    if verified.length is not None and verified.length != log.batch.length:
        raise VectorMismatch(f"{what}: upgrade proved length {verified.length}")
