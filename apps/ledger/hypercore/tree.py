"""Growing the Merkle tree of a log: appending blocks to its roots, one batch at a time.

The tree itself lives wherever the caller keeps nodes (the database, memory); this module only
computes. A log's roots are the nodes at `flat_tree.full_roots(2 * length)`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import flat_tree
from .crypto import Node, leaf_node, parent_node, tree_hash

_PACKED_ROOT = struct.Struct("<QQ32s")

# hypercore's MAX_SUGGESTED_BLOCK_SIZE: larger blocks do not replicate smoothly.
MAX_BLOCK_BYTES = 15 * 1024 * 1024


@dataclass
class TreeBatch:
    """The roots and length of a log while blocks are appended to it, and the new nodes."""

    roots: list[Node]
    length: int
    byte_length: int
    fork: int = 0
    nodes: list[Node] = field(default_factory=list)

    @classmethod
    def from_roots(cls, roots: Iterable[Node], fork: int = 0) -> TreeBatch:
        roots = list(roots)
        length = flat_tree.length_of_roots([r.index for r in roots])
        return cls(roots, length, sum(r.size for r in roots), fork)

    def append(self, block: bytes) -> None:
        if len(block) > MAX_BLOCK_BYTES:
            raise ValueError(f"block of {len(block)} bytes is over {MAX_BLOCK_BYTES}")
        self._push_root(leaf_node(2 * self.length, block), leaves=1)

    def append_all(self, blocks: Iterable[bytes]) -> None:
        for block in blocks:
            self.append(block)

    def tree_hash(self) -> bytes:
        return tree_hash(self.roots)

    def _push_root(self, node: Node, *, leaves: int) -> None:
        self.length += leaves
        self.byte_length += node.size
        self.roots.append(node)
        self.nodes.append(node)
        while len(self.roots) > 1 and self.roots[-2].index == flat_tree.sibling(
            self.roots[-1].index
        ):
            right = self.roots.pop()
            left = self.roots.pop()
            merged = parent_node(flat_tree.parent(right.index), left, right)
            self.nodes.append(merged)
            self.roots.append(merged)


def pack_roots(roots: Iterable[Node]) -> bytes:
    return b"".join(_PACKED_ROOT.pack(r.index, r.size, r.hash) for r in roots)


def unpack_roots(data: bytes) -> list[Node]:
    if len(data) % _PACKED_ROOT.size:
        raise ValueError("packed roots have a partial entry")
    return [Node(*fields) for fields in _PACKED_ROOT.iter_unpack(data)]
