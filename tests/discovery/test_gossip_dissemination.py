"""News about a node rides on outgoing messages a limited number of times, least-sent first,
and only the latest news about each node travels."""

from __future__ import annotations

import hashlib

from apps.discovery.gossip.dissemination import Broadcasts
from apps.discovery.gossip.wire import Update, UpdateKind


def node(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


AMANI, INES, PABLO = node("amani"), node("ines"), node("pablo")


def news(text: bytes) -> Update:
    return Update(UpdateKind.RECORD, text)


def take(queue: Broadcasts, budget: int = 1000, max_updates: int = 64, limit: int = 3):
    taken = queue.take(budget=budget, overhead=3, max_updates=max_updates, retransmit_limit=limit)
    return [update.raw for update in taken]


def test_each_update_is_sent_until_its_retransmit_limit_then_dropped():
    queue = Broadcasts()
    queue.add(AMANI, news(b"amani is alive at 2"))

    sent = [take(queue, limit=3) for _ in range(4)]

    assert sent == [[b"amani is alive at 2"]] * 3 + [[]]
    assert len(queue) == 0


def test_the_least_sent_update_goes_first_and_the_newest_among_equals():
    queue = Broadcasts()
    queue.add(AMANI, news(b"amani"))
    queue.add(INES, news(b"ines"))
    assert take(queue, max_updates=1) == [b"ines"]

    queue.add(PABLO, news(b"pablo"))

    assert take(queue, max_updates=2) == [b"pablo", b"amani"]
    assert take(queue, max_updates=3) == [b"pablo", b"ines", b"amani"]


def test_newer_news_about_a_node_replaces_the_older_and_starts_its_count_again():
    queue = Broadcasts()
    queue.add(INES, news(b"ines is suspect at 1"))
    take(queue)
    take(queue)

    queue.add(INES, news(b"ines is alive at 2"))

    assert [take(queue) for _ in range(4)] == [[b"ines is alive at 2"]] * 3 + [[]]


def test_updates_that_do_not_fit_the_byte_budget_wait_for_a_roomier_message():
    queue = Broadcasts()
    queue.add(AMANI, news(b"a" * 100))
    queue.add(INES, news(b"i" * 10))

    assert take(queue, budget=50) == [b"i" * 10]
    assert take(queue, budget=103) == [b"a" * 100]
