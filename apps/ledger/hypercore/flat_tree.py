"""Flat-tree indexing: a binary Merkle tree laid out in one array, in order.

Block i is the leaf at index 2i; odd indexes are parents. The depth of an index is its number of
trailing one bits. `TreeCursor` walks the tree the way Hypercore's proof code does.
"""

from __future__ import annotations


def depth(index: int) -> int:
    d = 0
    index += 1
    while not index & 1:
        d += 1
        index >>= 1
    return d


def offset(index: int, d: int | None = None) -> int:
    if not index & 1:
        return index // 2
    if d is None:
        d = depth(index)
    return ((index + 1) // (1 << d) - 1) // 2


def index_of(d: int, off: int) -> int:
    return (1 + 2 * off) * (1 << d) - 1


def parent(index: int) -> int:
    d = depth(index)
    return index_of(d + 1, offset(index, d) >> 1)


def sibling(index: int) -> int:
    d = depth(index)
    off = offset(index, d)
    return index_of(d, off - 1 if off & 1 else off + 1)


def children(index: int) -> tuple[int, int] | None:
    if not index & 1:
        return None
    d = depth(index)
    off = offset(index, d) * 2
    return index_of(d - 1, off), index_of(d - 1, off + 1)


def spans(index: int) -> tuple[int, int]:
    """The first and last leaf index under INDEX."""
    if not index & 1:
        return index, index
    d = depth(index)
    off = offset(index, d)
    width = 1 << (d + 1)
    return off * width, (off + 1) * width - 2


def full_roots(leaf_end: int) -> list[int]:
    """The roots of a tree whose leaves end before index LEAF_END (= 2 * length)."""
    if leaf_end & 1:
        raise ValueError("full roots are defined for leaf indexes only")
    remaining = leaf_end // 2
    roots = []
    start = 0
    while remaining:
        factor = 1
        while factor * 2 <= remaining:
            factor *= 2
        roots.append(start + factor - 1)
        start += 2 * factor
        remaining -= factor
    return roots


def length_of_roots(root_indexes: list[int]) -> int:
    """The log length covered by consecutive roots (the inverse of full_roots)."""
    covered = 0
    for root in root_indexes:
        covered += 2 * (root - covered + 1)
    return covered // 2


class TreeCursor:
    """A position in the flat-tree that moves by sibling, parent, child and next tree.

    `factor` is the width of the subtree under the position, in indexes (2 for a leaf).
    """

    __slots__ = ("factor", "index", "offset")

    def __init__(self, index: int = 0) -> None:
        self.seek(index)

    def seek(self, index: int) -> None:
        self.index = index
        if index & 1:
            self.offset = offset(index)
            self.factor = 1 << (depth(index) + 1)
        else:
            self.offset = index // 2
            self.factor = 2

    def is_left(self) -> bool:
        return not self.offset & 1

    def contains(self, index: int) -> bool:
        half = self.factor // 2
        if index > self.index:
            return index < self.index + half
        if index < self.index:
            return index > self.index - half
        return True

    def sibling(self) -> int:
        if self.is_left():
            self.offset += 1
            self.index += self.factor
        elif self.offset:
            self.offset -= 1
            self.index -= self.factor
        return self.index

    def parent(self) -> int:
        half = self.factor // 2
        if self.offset & 1:
            self.index -= half
            self.offset = (self.offset - 1) // 2
        else:
            self.index += half
            self.offset //= 2
        self.factor *= 2
        return self.index

    def left_child(self) -> int:
        if self.factor == 2:
            return self.index
        self.factor //= 2
        self.index -= self.factor // 2
        self.offset *= 2
        return self.index

    def next_tree(self) -> int:
        self.index = self.index + self.factor // 2 + 1
        self.offset = self.index // 2
        self.factor = 2
        return self.index

    def full_root(self, leaf_end: int) -> bool:
        """Grow the position into the full root that starts here, if one ends before LEAF_END."""
        if leaf_end <= self.index or self.index & 1:
            return False
        while leaf_end > self.index + self.factor + self.factor // 2:
            self.index += self.factor // 2
            self.factor *= 2
            self.offset //= 2
        return True
