"""Staff page "Following": Amina sees the followed books, their sources and faults, follows a
new one, pauses, resumes and unfollows; Juma sees the page but may change nothing; borrowers
and investors do not see it. A fork is shown as an alert."""

from __future__ import annotations

import pytest

from apps.ledger.follow_services import follow_pull, follow_start
from apps.ledger.models import Follow, FollowState, ForkEvidence, ReplicationEvent
from tests.ledger.replica_sources import HonestSource, LyingSource, MemoryBook, entry
from tests.ledger.test_ledger_follow import _flip_a_value
from tests.queries import page_queries

AMANI_URL = "http://amani.example"


@pytest.fixture
def amani_book() -> MemoryBook:
    book = MemoryBook()
    book.append([entry(n) for n in range(40)])
    return book


@pytest.fixture
def followed(db, amani_book) -> Follow:
    follow = follow_start(key=amani_book.key, kind="projects", sources=[AMANI_URL])
    follow_pull(follow_id=follow.pk, source_factory=lambda url: HonestSource(amani_book, url))
    return follow


def test_amina_sees_the_followed_book_with_its_source_and_state(client, amina, followed):
    client.force_login(amina)

    page = client.get("/staff/books/following/").content.decode()

    assert "projects" in page and AMANI_URL in page
    assert "Following</span>" in page  # the state badge
    assert "Pull now" in page and "Unfollow" in page
    assert "No source has sent anything wrong." in page


def test_the_page_costs_the_same_queries_for_one_follow_and_ten(client, amina, followed):
    client.force_login(amina)

    one = page_queries(client, "/staff/books/following/")
    for n in range(9):
        other = MemoryBook(seed=f"book-{n}".encode().ljust(32, b"\0"))
        follow_start(key=other.key, kind="projects", sources=[f"http://node-{n}.example"])
    assert page_queries(client, "/staff/books/following/") == one


def test_a_lying_source_shows_among_the_faults(client, juma, amani_book):
    follow = follow_start(key=amani_book.key, kind="projects", sources=["http://mallory.example"])
    follow_pull(
        follow_id=follow.pk,
        source_factory=lambda url: LyingSource(amani_book, _flip_a_value, url),
    )
    client.force_login(juma)

    page = client.get("/staff/books/following/").content.decode()

    assert "Blocks or proof do not match the signed head" in page
    assert "http://mallory.example" in page
    assert ReplicationEvent.objects.count() == 1


def test_amina_pauses_resumes_and_unfollows(client, amina, followed):
    client.force_login(amina)
    base = f"/staff/books/following/{followed.pk}"

    client.post(f"{base}/pause/")
    assert Follow.objects.get().state == FollowState.PAUSED
    client.post(f"{base}/resume/")
    assert Follow.objects.get().state == FollowState.ACTIVE
    response = client.post(f"{base}/unfollow/", follow=True)

    assert "Unfollowed" in response.content.decode()
    assert not Follow.objects.exists()
    assert client.post(f"{base}/explode/").status_code == 404


def test_amina_follows_a_book_by_key_and_url_and_bad_input_is_explained(client, amina, db):
    client.force_login(amina)
    book = MemoryBook(seed=b"baraka".ljust(32, b"\0"))

    bad = client.post(
        "/staff/books/following/add/", {"key": "nope", "url": "ftp://x", "kind": "projects"}
    )
    good = client.post(
        "/staff/books/following/add/",
        {"key": book.key.hex(), "url": "http://127.0.0.1:9", "kind": "projects"},
        follow=True,
    )

    assert bad.status_code == 400
    assert "A book key is 64 lowercase hex characters." in bad.content.decode()
    assert "Following the book" in good.content.decode()
    assert Follow.objects.get().chosen_by == amina


def test_pull_now_asks_the_worker_and_leaves_a_paused_book_paused(client, amina, followed):
    client.force_login(amina)
    base = f"/staff/books/following/{followed.pk}"
    client.post(f"{base}/pause/")

    pulled = client.post(f"{base}/pull/", follow=True)

    assert "Not pulled now" not in pulled.content.decode()
    assert Follow.objects.get().state == FollowState.PAUSED


def test_with_the_broker_out_of_reach_amina_still_follows_and_is_told_the_pull_waits(
    client, amina, followed, redis_out_of_reach
):
    client.force_login(amina)
    book = MemoryBook(seed=b"kwame".ljust(32, b"\0"))

    added = client.post(
        "/staff/books/following/add/",
        {"key": book.key.hex(), "url": "http://127.0.0.1:9", "kind": "projects"},
        follow=True,
    )
    pulled = client.post(f"/staff/books/following/{followed.pk}/pull/", follow=True)

    assert added.status_code == pulled.status_code == 200
    assert "Following the book. The worker cannot be asked right now" in added.content.decode()
    assert "Not pulled now. The worker cannot be asked right now" in pulled.content.decode()
    assert Follow.objects.count() == 2
    assert Follow.objects.get(pk=followed.pk).state == FollowState.ACTIVE


def test_juma_may_look_but_not_change_anything(client, juma, followed):
    client.force_login(juma)

    page = client.get("/staff/books/following/").content.decode()
    paused = client.post(f"/staff/books/following/{followed.pk}/pause/")
    added = client.post(
        "/staff/books/following/add/",
        {"key": "ab" * 32, "url": "http://baraka.example", "kind": "projects"},
    )

    assert "Pull now" not in page
    assert (paused.status_code, added.status_code) == (403, 403)
    assert Follow.objects.get().state == FollowState.ACTIVE


def test_borrowers_and_investors_cannot_open_it(client, wanjiru, ines, db):
    for person in (wanjiru, ines):
        client.force_login(person)
        assert client.get("/staff/books/following/").status_code == 403


def test_a_fork_is_an_alert_on_the_page(client, amina, followed):
    ForkEvidence.objects.create(
        follow=followed,
        length=40,
        ours={"fork": 0, "tree_hash": "aa" * 32, "signature": "bb" * 68},
        theirs={"fork": 0, "tree_hash": "cc" * 32, "signature": "dd" * 68},
        url=AMANI_URL,
    )
    client.force_login(amina)

    page = client.get("/staff/books/following/").content.decode()

    assert "Its writer signed two different logs of 40 blocks" in page
