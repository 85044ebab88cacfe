"""Flat-tree arithmetic: properties that every index and length must satisfy."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from apps.ledger.hypercore import flat_tree

indexes = st.integers(min_value=0, max_value=2**40)
lengths = st.integers(min_value=0, max_value=2**40)


@given(indexes)
def test_a_node_is_a_child_of_its_parent_and_its_siblings_sibling(index):
    parent = flat_tree.parent(index)

    assert index in flat_tree.children(parent)
    assert flat_tree.sibling(flat_tree.sibling(index)) == index
    assert flat_tree.parent(flat_tree.sibling(index)) == parent
    assert flat_tree.depth(parent) == flat_tree.depth(index) + 1


@given(indexes)
def test_spans_cover_exactly_the_leaves_under_a_node(index):
    first, last = flat_tree.spans(index)

    assert first % 2 == 0 and last % 2 == 0
    assert (last - first) // 2 + 1 == 2 ** flat_tree.depth(index)
    assert first <= index <= last


@given(lengths)
def test_full_roots_cover_the_log_and_invert(length):
    roots = flat_tree.full_roots(2 * length)

    assert flat_tree.length_of_roots(roots) == length
    assert sum(2 ** flat_tree.depth(r) for r in roots) == length
    assert roots == sorted(roots)


def test_known_roots():
    assert flat_tree.full_roots(0) == []
    assert flat_tree.full_roots(2 * 10) == [7, 17]
    assert flat_tree.full_roots(2 * 15) == [7, 19, 25, 28]


@given(indexes)
def test_the_cursor_agrees_with_the_functions(index):
    cursor = flat_tree.TreeCursor(index)

    assert cursor.sibling() == flat_tree.sibling(index)
    cursor.seek(index)
    assert cursor.parent() == flat_tree.parent(index)
