"""The node's books as signed logs in the database: append, read with proofs, verify."""

from __future__ import annotations

import pytest

from apps.ledger.hypercore.errors import HypercoreError
from apps.ledger.hypercore.heads import SignedHead
from apps.ledger.hypercore.proofs import verify_block_path, verify_proof
from apps.ledger.hypercore.tree import NODE_RECORD, node_location
from apps.ledger.models import Block, Book
from apps.ledger.models import SignedHead as StoredHead
from apps.ledger.selectors import RangeError, log_range, log_verify
from apps.ledger.services import log_append, log_for_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def projects_log():
    log = log_for_book(book=Book.PROJECTS)
    log_append(log=log, blocks=[f"entry {i}".encode() for i in range(5)])
    log_append(log=log, blocks=[b"six"])
    log_append(log=log, blocks=[f"more {i}".encode() for i in range(7)])
    return log


def _verify_range(log, start, end, since=0, trusted=()):
    answer = log_range(log=log, start=start, end=end, since=since)
    verified = verify_proof(answer.upgrade, log.core_keys, trusted_roots=trusted)
    roots = {root.index: root for root in verified.roots}
    for block in answer.blocks:
        top = verify_block_path(block.block, [])
        if roots.get(top.index) != top:
            raise HypercoreError(f"block {block.block.index} does not hash to a signed root")
    return answer, verified


def test_each_batch_is_one_signed_head(projects_log):
    heads = list(StoredHead.objects.filter(log=projects_log).order_by("length"))

    assert [h.length for h in heads] == [5, 6, 13]
    assert projects_log.length == 13
    for head in heads:
        SignedHead(head.length, head.fork, bytes(head.tree_hash), bytes(head.signature)).verify(
            projects_log.core_keys
        )


def test_a_reader_verifies_any_range_against_the_signed_head(projects_log):
    answer, verified = _verify_range(projects_log, 2, 11)

    assert verified.length == 13
    assert [bytes(b.block.value) for b in answer.blocks][:2] == [b"entry 2", b"entry 3"]


def test_a_reader_that_already_trusts_a_length_gets_only_the_upgrade(projects_log):
    from apps.ledger.hypercore import flat_tree
    from apps.ledger.storage import nodes_by_index

    roots_at_6 = nodes_by_index(projects_log.pk, flat_tree.full_roots(12))
    trusted = [roots_at_6[i] for i in flat_tree.full_roots(12)]

    _, verified = _verify_range(projects_log, 6, 13, since=6, trusted=trusted)

    assert verified.length == 13


@pytest.mark.parametrize(("start", "end", "since"), [(0, 14, 0), (5, 5, 0), (-1, 2, 0), (0, 2, 99)])
def test_bad_ranges_are_refused_with_a_reason(projects_log, start, end, since):
    with pytest.raises(RangeError):
        log_range(log=projects_log, start=start, end=end, since=since)


def test_verify_now_passes_on_an_intact_log(projects_log):
    assert log_verify(log=projects_log).ok
    assert log_verify(log=projects_log).blocks_checked == 13


def test_a_flipped_byte_in_a_block_is_named_by_verify_and_breaks_its_proof(projects_log):
    block = Block.objects.get(log=projects_log, index=7)
    block.data = b"m" + bytes(block.data)[1:] if bytes(block.data)[:1] != b"m" else b"X"
    block.save()

    result = log_verify(log=projects_log)
    assert not result.ok
    assert result.problem.startswith("block 7:")
    with pytest.raises(HypercoreError, match="block 7"):
        _verify_range(projects_log, 7, 8)


def test_a_flipped_byte_in_a_stored_node_is_named(projects_log):
    # Node 3 (depth 2) was completed by block 3: the third node of its record.
    block, depth = node_location(3)
    assert (block, depth) == (3, 2)
    stored = Block.objects.get(log=projects_log, index=block)
    record = bytearray(stored.nodes)
    record[depth * NODE_RECORD.size + 8] ^= 1  # the first byte of its hash
    stored.nodes = bytes(record)
    stored.save()

    result = log_verify(log=projects_log)

    assert not result.ok
    assert "tree node 3" in result.problem
    # Node 3 is the uncle that proves blocks 4 to 7.
    with pytest.raises(HypercoreError, match="block 4"):
        _verify_range(projects_log, 4, 8)


def test_a_flipped_byte_in_a_signature_is_named(projects_log):
    head = StoredHead.objects.get(log=projects_log, length=6)
    head.signature = (
        bytes(head.signature)[:10] + bytes([head.signature[10] ^ 1]) + bytes(head.signature)[11:]
    )
    head.save()

    result = log_verify(log=projects_log)

    assert not result.ok
    assert result.problem == "the signature of the head at length 6 does not verify"


def test_the_current_head_signature_is_what_readers_check(projects_log):
    signature = bytearray(projects_log.signature)
    signature[20] ^= 0x01
    projects_log.signature = bytes(signature)
    projects_log.save()

    with pytest.raises(HypercoreError):
        _verify_range(projects_log, 0, 3)


def test_a_large_batch_of_arbitrary_bytes_round_trips():
    # Large batches take the bulk (COPY) path on PostgreSQL; bytes that mean something to COPY's
    # text format must come back unchanged.
    log = log_for_book(book=Book.FUNDING)
    blocks = [bytes([i % 256, 9, 10, 92, 0, 255]) * (i % 5 + 1) for i in range(300)]

    log_append(log=log, blocks=blocks)

    assert log_verify(log=log).ok
    answer, _ = _verify_range(log, 0, 300)
    assert [bytes(p.block.value) for p in answer.blocks] == blocks
