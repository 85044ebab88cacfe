"""Growing the Merkle tree of a log: appending blocks to its roots, one batch at a time.

The tree itself lives wherever the caller keeps nodes (the database, memory); this module only
computes. A log's roots are the nodes at `flat_tree.full_roots(2 * length)`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from hashlib import blake2b

from . import flat_tree
from .crypto import HASH_BYTES, Node, parent_node, tree_hash

_PACKED_ROOT = struct.Struct("<QQ32s")
# A node in a block's record: its size and hash (its index follows from the block and depth).
NODE_RECORD = struct.Struct("<Q32s")
_U64 = struct.Struct("<Q")
_LEAF = b"\x00"
_PARENT = b"\x01"

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
    # One per appended block: its leaf and the parents it completes (see block_record).
    records: list[bytes] = field(default_factory=list)

    @classmethod
    def from_roots(cls, roots: Iterable[Node], fork: int = 0) -> TreeBatch:
        roots = list(roots)
        length = flat_tree.length_of_roots([r.index for r in roots])
        return cls(roots, length, sum(r.size for r in roots), fork)

    def append(self, block: bytes) -> None:
        self.append_all((block,))

    def append_all(self, blocks: Iterable[bytes]) -> None:
        """Append leaves. Appending block j completes one parent per trailing one bit of j, each
        merging the last root with the node just built; this loop is the append hot path, so it
        hashes inline instead of walking the tree through flat_tree."""
        roots, nodes, records = self.roots, self.nodes, self.records
        j, byte_length = self.length, self.byte_length
        for block in blocks:
            size = len(block)
            if size > MAX_BLOCK_BYTES:
                raise ValueError(f"block of {size} bytes is over {MAX_BLOCK_BYTES}")
            byte_length += size
            h = blake2b(_LEAF, digest_size=HASH_BYTES)
            h.update(_U64.pack(size))
            h.update(block)
            node = Node(2 * j, size, h.digest())
            nodes.append(node)
            record = [NODE_RECORD.pack(size, node.hash)]
            depth = 1
            while j >> (depth - 1) & 1:
                left = roots.pop()
                size = left.size + node.size
                digest = blake2b(
                    _PARENT + _U64.pack(size) + left.hash + node.hash, digest_size=HASH_BYTES
                ).digest()
                node = Node(2 * j + 1 - (1 << depth), size, digest)
                nodes.append(node)
                record.append(NODE_RECORD.pack(size, digest))
                depth += 1
            roots.append(node)
            records.append(b"".join(record))
            j += 1
        self.length, self.byte_length = j, byte_length

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


def block_record_nodes(block_index: int, record: bytes) -> list[Node]:
    """The nodes in a block's record: its leaf, then the parents it completed, by depth."""
    return [
        Node(2 * block_index + 1 - (1 << depth), size, hash_)
        for depth, (size, hash_) in enumerate(NODE_RECORD.iter_unpack(record))
    ]


def node_location(index: int) -> tuple[int, int]:
    """The block whose record holds node INDEX, and the node's position in that record."""
    depth = flat_tree.depth(index)
    return (index + (1 << depth) - 1) // 2, depth
