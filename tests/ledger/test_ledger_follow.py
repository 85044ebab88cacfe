"""Amina's node follows Amani's projects book: it pulls new blocks in batches, verifies each
batch against Amani's signature before storing it, resumes where it stopped, and serves the
book to others with the same proofs. A source that lies is caught every time with nothing
stored, recorded with the reason, and loses score; a writer that signs two different logs
freezes the follow and leaves both heads as evidence."""

from __future__ import annotations

import dataclasses

import pytest

from apps.ledger.follow_services import follow_index, follow_pull, follow_start
from apps.ledger.hypercore.crypto import Node
from apps.ledger.hypercore.proofs import Proof, verify_proof
from apps.ledger.models import (
    Block,
    BookKey,
    Follow,
    FollowSource,
    FollowState,
    ForkEvidence,
    Log,
    ReplicationEvent,
)
from apps.ledger.replication import RemoteHead, ReplicationError
from tests.ledger.replica_sources import HonestSource, LyingSource, MemoryBook, entry

pytestmark = pytest.mark.django_db
AMANI_URL = "http://amani.example"
MALLORY_URL = "http://mallory.example"


@pytest.fixture
def amani_book() -> MemoryBook:
    book = MemoryBook()
    for first in range(0, 2500, 500):
        book.append([entry(n) for n in range(first, first + 500)])
    return book


def _follow(book: MemoryBook, *urls: str) -> Follow:
    return follow_start(key=book.key, kind="projects", sources=urls or [AMANI_URL])


def _pull(follow: Follow, sources: dict, **options):
    return follow_pull(follow_id=follow.pk, source_factory=sources.__getitem__, **options)


def test_a_followed_book_is_verified_stored_and_served_as_its_writer_serves_it(client, amani_book):
    follow = _follow(amani_book)

    result = _pull(follow, {AMANI_URL: HonestSource(amani_book)})

    log = Log.objects.get(pk=follow.log_id)
    assert (result.stored, result.length, log.writer) == (2500, 2500, False)
    assert (bytes(log.tree_hash), bytes(log.signature)) == (
        amani_book.head.tree_hash,
        amani_book.head.signature,
    )
    assert not BookKey.objects.filter(log=log).exists()  # indexing is a task of its own
    assert follow_index(follow_id=follow.pk) == 2500
    assert BookKey.objects.filter(log=log, key="project:42").exists()
    assert follow_index(follow_id=follow.pk) == 0
    answer = client.get(f"/api/books/{amani_book.key.hex()}/blocks/?start=2490&end=2491").json()
    proof = answer["blocks"][0]["block"]
    verified = verify_proof(Proof(0, _block_proof(proof), None), amani_book.keys, trusted_roots=())
    assert verified.block_root is not None
    assert bytes.fromhex(proof["value"]) == entry(2490)


def _block_proof(data: dict):
    from apps.ledger.hypercore.proofs import BlockProof

    nodes = [Node(n["index"], n["size"], bytes.fromhex(n["hash"])) for n in data["nodes"]]
    return BlockProof(data["index"], bytes.fromhex(data["value"]), nodes)


def test_a_pull_cut_short_resumes_where_it_stopped_without_storing_anything_twice(amani_book):
    follow = _follow(amani_book)

    class CutAfterOneBatch(HonestSource):
        def range(self, key, start, end):
            if start > 0:
                raise ReplicationError("unreachable", "connection reset")
            return super().range(key, start, end)

    first = _pull(follow, {AMANI_URL: CutAfterOneBatch(amani_book)}, batch_blocks=1000)
    follow.refresh_from_db()
    assert (first.stored, follow.verified_length, follow.log.length) == (1000, 1000, 0)

    FollowSource.objects.update(next_try_at="2000-01-01T00:00Z")
    second = _pull(follow, {AMANI_URL: HonestSource(amani_book)}, batch_blocks=1000)

    assert (second.stored, second.length) == (1500, 2500)
    assert "connection reset" in first.problem
    assert Block.objects.filter(log_id=follow.log_id).count() == 2500


def _flip_a_value(answer):
    values = list(answer.values)
    values[3] = values[3].replace(b"Project", b"Pr0ject")
    return dataclasses.replace(answer, values=values)


def _drop_an_upgrade_node(answer):
    upgrade = dataclasses.replace(answer.upgrade, nodes=answer.upgrade.nodes[1:])
    return dataclasses.replace(answer, upgrade=upgrade)


def _truncate(answer):
    return dataclasses.replace(answer, values=answer.values[:-1])


def _forge_the_signature(answer):
    head = answer.head
    forged = head.signature[:-1] + bytes([head.signature[-1] ^ 1])
    upgrade = answer.upgrade and dataclasses.replace(answer.upgrade, signature=forged)
    return dataclasses.replace(
        answer, head=dataclasses.replace(head, signature=forged), upgrade=upgrade
    )


def _claim_another_fork(answer):
    return dataclasses.replace(answer, head=dataclasses.replace(answer.head, fork=1))


@pytest.mark.parametrize(
    ("lie", "fault"),
    [
        (_flip_a_value, "bad_proof"),
        (_drop_an_upgrade_node, "bad_proof"),
        (_truncate, "malformed"),
        (_forge_the_signature, "bad_signature"),
        (_claim_another_fork, "bad_signature"),
    ],
    ids=["flipped byte", "dropped node", "truncated", "forged signature", "unsigned fork"],
)
def test_a_lying_source_is_caught_with_nothing_stored_and_an_honest_one_takes_over(
    amani_book, lie, fault
):
    follow = _follow(amani_book, MALLORY_URL, AMANI_URL)
    FollowSource.objects.filter(url=MALLORY_URL).update(score=150)  # asked first
    sources = {
        MALLORY_URL: LyingSource(amani_book, lie),
        AMANI_URL: HonestSource(amani_book),
    }

    result = _pull(follow, sources, batch_blocks=1000)

    event = ReplicationEvent.objects.get()
    assert (event.url, event.fault) == (MALLORY_URL, fault)
    mallory = FollowSource.objects.get(url=MALLORY_URL)
    assert mallory.score < 150 and mallory.failures == 1 and mallory.last_error
    assert (result.source, result.length) == (AMANI_URL, 2500)
    assert Block.objects.filter(log_id=follow.log_id).count() == 2500
    follow.refresh_from_db()
    assert follow.state == FollowState.ACTIVE


def test_with_only_a_lying_source_nothing_at_all_is_stored(amani_book):
    follow = _follow(amani_book, MALLORY_URL)

    result = _pull(follow, {MALLORY_URL: LyingSource(amani_book, _flip_a_value)})

    assert result.stored == 0 and "blocks [0, 2000)" in result.problem
    assert not Block.objects.filter(log_id=follow.log_id).exists()
    assert Log.objects.get(pk=follow.log_id).length == 0
    mallory = FollowSource.objects.get()
    assert _pull(follow, {MALLORY_URL: mallory}).problem == "no source is due"  # backing off


def test_a_replayed_old_head_is_refused_as_shorter(amani_book):
    follow = _follow(amani_book)
    _pull(follow, {AMANI_URL: HonestSource(amani_book)})
    old = amani_book.heads[2]

    class Replaying(HonestSource):
        def book(self, key):
            return dataclasses.replace(super().book(key), head=old)

    FollowSource.objects.update(next_try_at="2000-01-01T00:00Z")
    result = _pull(follow, {AMANI_URL: Replaying(amani_book)})

    assert ReplicationEvent.objects.get().fault == "shorter_head"
    assert result.length == 2500


def test_two_signed_logs_of_one_writer_freeze_the_follow_and_keep_both_heads(amani_book):
    follow = _follow(amani_book, AMANI_URL, MALLORY_URL)
    _pull(follow, {AMANI_URL: HonestSource(amani_book)})
    forked = MemoryBook()  # the same key, another history of the same length
    for first in range(0, 2500, 500):
        forked.append([entry(n, kind="growr/other") for n in range(first, first + 500)])
    FollowSource.objects.update(next_try_at="2000-01-01T00:00Z")
    FollowSource.objects.filter(url=MALLORY_URL).update(score=150)

    _pull(
        follow,
        {MALLORY_URL: HonestSource(forked, MALLORY_URL), AMANI_URL: HonestSource(amani_book)},
    )

    follow.refresh_from_db()
    assert follow.state == FollowState.FROZEN
    evidence = ForkEvidence.objects.get()
    assert evidence.ours["signature"] == amani_book.head.signature.hex()
    assert evidence.theirs["signature"] == forked.head.signature.hex()
    assert _pull(follow, {AMANI_URL: HonestSource(amani_book)}).problem == "the follow is frozen"


def test_a_source_answering_for_another_book_is_refused(amani_book):
    other = MemoryBook(seed=b"someone-else".ljust(32, b"\0"))
    other.append([entry(1)])
    follow = _follow(amani_book)

    class WrongBook(HonestSource):
        def book(self, key):
            return super().book(other.key)

    _pull(follow, {AMANI_URL: WrongBook(other)})

    assert ReplicationEvent.objects.get().fault == "wrong_key"
    assert Log.objects.get(pk=follow.log_id).length == 0


def test_following_its_own_book_is_refused(db):
    from django.core.exceptions import ValidationError

    from apps.ledger.services import log_for_book

    own = log_for_book(book="projects")

    with pytest.raises(ValidationError, match="writes that book"):
        follow_start(key=bytes(own.key), kind="projects", sources=[AMANI_URL])


def test_the_head_is_signed_length_only_reached_once_the_pull_gets_there(amani_book):
    follow = _follow(amani_book)
    head = RemoteHead(**dataclasses.asdict(amani_book.head))

    _pull(follow, {AMANI_URL: HonestSource(amani_book)}, batch_blocks=700)

    log = Log.objects.get(pk=follow.log_id)
    assert log.length == head.length
    assert log.heads.count() == 1  # only the head the pull reached, not one per batch


def test_the_poll_asks_only_active_follows_with_a_source_due(amani_book):
    from apps.ledger.selectors import follows_to_poll

    due = _follow(amani_book)
    paused_book = MemoryBook(seed=b"paused".ljust(32, b"\0"))
    paused = _follow(paused_book)
    Follow.objects.filter(pk=paused.pk).update(state=FollowState.PAUSED)
    waiting_book = MemoryBook(seed=b"waiting".ljust(32, b"\0"))
    waiting = _follow(waiting_book)
    FollowSource.objects.filter(follow=waiting).update(next_try_at="2999-01-01T00:00Z")

    assert follows_to_poll() == [due.pk]


def test_the_head_long_poll_answers_at_once_when_the_book_is_longer(client):
    from apps.ledger.services import log_append, log_for_book

    log = log_for_book(book="projects")
    log_append(log=log, blocks=[entry(1), entry(2)])
    url = f"/api/books/{bytes(log.key).hex()}/head/"

    longer = client.get(url, {"after": 1, "wait": 20})
    same = client.get(url, {"after": 2, "wait": 0})

    assert longer.status_code == 200
    assert (longer.json()["changed"], longer.json()["head"]["length"]) == (True, 2)
    assert (same.json()["changed"], same.json()["length"]) == (False, 2)


@pytest.mark.parametrize(
    ("query", "status"),
    [({"after": "x"}, 400), ({"wait": "99"}, 400), ({"after": "-1"}, 400)],
)
def test_a_bad_long_poll_is_a_clear_400(client, query, status):
    response = client.get(f"/api/books/{'ab' * 32}/head/", query)

    assert response.status_code == status
    assert response.json()["error"]["code"] == "invalid"


def test_a_long_poll_for_an_unknown_book_is_a_404(client, db):
    response = client.get(f"/api/books/{'ab' * 32}/head/", {"wait": 0})

    assert response.status_code == 404
    assert "No book with this key" in response.json()["error"]["message"]


@pytest.mark.django_db(transaction=True)
def test_two_pulls_at_once_store_every_block_exactly_once(amani_book):
    import threading

    from django.db import connection

    follow = _follow(amani_book)
    results, errors = [], []

    def pull() -> None:
        try:
            results.append(_pull(follow, {AMANI_URL: HonestSource(amani_book)}, batch_blocks=300))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=pull) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r.stored for r in results) == 2500
    assert Block.objects.filter(log_id=follow.log_id).count() == 2500
    assert Log.objects.get(pk=follow.log_id).length == 2500


def test_a_sparse_follow_keeps_only_the_newest_blocks_each_verified(client, amani_book):
    follow = follow_start(key=amani_book.key, kind="projects", sources=[AMANI_URL], keep_latest=100)

    first = _pull(follow, {AMANI_URL: HonestSource(amani_book)})

    log = Log.objects.get(pk=follow.log_id)
    indexes = sorted(Block.objects.filter(log=log).values_list("index", flat=True))
    assert (first.stored, log.length, indexes) == (100, 2500, list(range(2400, 2500)))
    assert bytes(log.signature) == amani_book.head.signature
    assert BookKey.objects.filter(log=log, key="project:2499").exists()
    assert not BookKey.objects.filter(log=log, key="project:2399").exists()

    amani_book.append([entry(n) for n in range(2500, 2530)])
    FollowSource.objects.update(next_try_at="2000-01-01T00:00Z")
    second = _pull(follow, {AMANI_URL: HonestSource(amani_book)})

    indexes = sorted(Block.objects.filter(log=log).values_list("index", flat=True))
    assert (second.stored, indexes) == (30, list(range(2430, 2530)))
    stored = dict(Block.objects.filter(log=log).values_list("index", "nodes"))
    writer_records = amani_book.tree.records  # the writer's record of every block
    assert bytes(stored[2529]) == writer_records[2529]


def _flip_a_sparse_block(answer):
    from apps.ledger.hypercore.proofs import BlockProof

    first = answer.blocks[0]
    changed = BlockProof(first.index, first.value.replace(b"Project", b"Pr0ject"), first.nodes)
    return dataclasses.replace(answer, blocks=[changed, *answer.blocks[1:]])


def test_a_sparse_follow_refuses_a_block_that_is_not_the_signed_one(amani_book):
    follow = follow_start(
        key=amani_book.key, kind="projects", sources=[MALLORY_URL], keep_latest=10
    )

    result = _pull(follow, {MALLORY_URL: LyingSource(amani_book, _flip_a_sparse_block)})

    assert result.stored == 0
    assert ReplicationEvent.objects.get().fault == "bad_proof"
    assert not Block.objects.filter(log_id=follow.log_id).exists()
    assert Log.objects.get(pk=follow.log_id).length == 0


def test_a_range_follow_keeps_its_blocks_and_takes_the_rest_of_its_range_as_it_comes(amani_book):
    follow = follow_start(
        key=amani_book.key, kind="projects", sources=[AMANI_URL], block_range=(2400, 2600)
    )

    first = _pull(follow, {AMANI_URL: HonestSource(amani_book)})
    amani_book.append([entry(n) for n in range(2500, 2530)])
    FollowSource.objects.update(next_try_at="2000-01-01T00:00Z")
    second = _pull(follow, {AMANI_URL: HonestSource(amani_book)})

    indexes = sorted(Block.objects.filter(log_id=follow.log_id).values_list("index", flat=True))
    assert (first.stored, second.stored, indexes) == (100, 30, list(range(2400, 2530)))
    assert Log.objects.get(pk=follow.log_id).length == 2530


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"keep_latest": 0}, "1 to 1000"),
        ({"keep_latest": 1001}, "1 to 1000"),
        ({"block_range": (5, 5)}, "START < END"),
        ({"block_range": (0, 1001)}, "at most 1000"),
        ({"keep_latest": 10, "block_range": (0, 10)}, "not both"),
    ],
)
def test_a_sparse_follow_out_of_bounds_is_refused_with_the_reason(amani_book, options, message):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match=message):
        follow_start(key=amani_book.key, kind="projects", sources=[AMANI_URL], **options)
    assert not Follow.objects.exists()
