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
