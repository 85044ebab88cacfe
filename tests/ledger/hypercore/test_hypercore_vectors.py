"""The core replays the vectors that the real hypercore@11.37.1 produced, byte for byte."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from apps.ledger.hypercore.vectors import VectorMismatch, check_vectors

HERE = Path(__file__).resolve().parent
# The team's shared vectors sit beside the repository; a copy travels with it for other clones.
SHARED_VECTORS = HERE.parents[3] / "shared" / "vectors" / "hypercore-v11.json"
VENDORED_VECTORS = HERE / "data" / "hypercore-v11.json"
# Made by bench/hypercore_reference/make-vectors.mjs: another seed, other blocks, other requests.
SECOND_VECTORS = HERE / "data" / "hypercore-v11-second.json"


@pytest.fixture(scope="module")
def vectors() -> dict:
    path = SHARED_VECTORS if SHARED_VECTORS.exists() else VENDORED_VECTORS
    return json.loads(path.read_text())


def test_every_check_of_the_shared_vectors_passes(vectors):
    checks = list(check_vectors(vectors))

    assert len(checks) >= 100
    for mode in ("compat", "manifest"):
        assert f"{mode}: key ok" in checks
        assert any(c.startswith(f"{mode}: proof 6") and c.endswith("verified") for c in checks)


def test_a_second_file_from_the_real_package_passes_for_every_append_leaf_and_proof():
    second = json.loads(SECOND_VECTORS.read_text())
    checks = list(check_vectors(second))

    assert set(second["modes"]) == {"compat", "manifest"}
    for mode, made in second["modes"].items():
        appends, leaves, proofs = made["appends"], made["blockHashes"], made["proofs"]
        assert len(leaves) == sum(len(a["blocks"]) for a in appends) == appends[-1]["length"]
        assert [c for c in checks if c.startswith(f"{mode}: ")] == [
            f"{mode}: public key ok",
            f"{mode}: key ok",
            f"{mode}: discovery key ok",
            *(
                f"{mode}: append {n} {part}"
                for n, a in enumerate(appends)
                for part in (f"tree hash (length {a['length']}) ok", "signable ok", "signature ok")
            ),
            *(f"{mode}: leaf hash of block {n} ok" for n in range(len(leaves))),
            *(
                f"{mode}: proof {n} {part}"
                for n in range(len(proofs))
                for part in ("built node for node", "verified")
            ),
        ]


def _flip(hex_string: str, at: int = 0) -> str:
    digit = hex_string[at]
    return hex_string[:at] + ("0" if digit != "0" else "1") + hex_string[at + 1 :]


@pytest.mark.parametrize(
    ("path", "named"),
    [
        (("manifest", "key"), "manifest: key"),
        (("compat", "discoveryKey"), "compat: discovery key"),
        (("manifest", "appends", 2, "treeHash"), "manifest: append 2 tree hash"),
        (("compat", "appends", 4, "signable"), "compat: append 4 signable"),
        (("manifest", "appends", 6, "signature"), "manifest: append 6 signature"),
        (("compat", "blockHashes", 9), "compat: leaf hash of block 9"),
        (("manifest", "proofs", 1, "proof", "block", "nodes", 1, "hash"), "manifest: proof 1"),
        (("compat", "proofs", 6, "proof", "upgrade", "additionalNodes", 0, "hash"), "proof 6"),
        (("manifest", "proofs", 3, "proof", "upgrade", "signature"), "manifest: proof 3"),
    ],
)
def test_one_changed_byte_anywhere_is_found_and_named(vectors, path, named):
    mutated = copy.deepcopy(vectors)
    holder = mutated["modes"]
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = _flip(holder[path[-1]], 10)

    with pytest.raises(VectorMismatch, match=named):
        list(check_vectors(mutated))


def test_a_file_that_is_not_a_vectors_file_is_refused_clearly():
    with pytest.raises(VectorMismatch, match="not a vectors file"):
        list(check_vectors({"hello": "world"}))


@pytest.mark.parametrize(
    ("part", "value", "named"),
    [
        ("request", {"index": 4, "nodes": 0}, "proof 2: the request has hash"),
        ("proof", {"bytes": 10, "nodes": []}, "proof 2: the proof has seek"),
    ],
)
def test_proof_parts_the_checker_does_not_check_are_refused_by_name(vectors, part, value, named):
    mutated = copy.deepcopy(vectors)
    case = mutated["modes"]["manifest"]["proofs"][2]
    case[part]["hash" if part == "request" else "seek"] = value

    with pytest.raises(VectorMismatch, match=named):
        list(check_vectors(mutated))
