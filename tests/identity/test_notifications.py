"""Notifications reach a signed-in person: kept in the database when they happen, sent live to
every page they have open, found again by a page that was closed or whose socket dropped, and
listed on their notifications page. Amina and Juma (Kijani's staff) hear of the team, Ines and
Pablo (investors) each of their own news only."""

from __future__ import annotations

import re
from datetime import timedelta
from unittest import mock
from unittest.mock import ANY

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends import cached_db
from django.core.cache import cache, caches
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.identity import consumers
from apps.identity.models import Notification
from apps.identity.notifications import notify_user
from apps.identity.person_keys import kept_user_key, user_generation_key
from apps.identity.selectors import Bell, bell_generation_key, bell_keys, notification_bell
from apps.node.cache import generation
from growr_site.asgi import application
from tests.openapi import schema_errors
from tests.queries import page_queries

API = "/api/notifications/"
PAGE = "/notifications/"


def _communicator(user=None, path: str = "/ws/notifications/") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://127.0.0.1")]
    )
    if user is not None:
        communicator.scope["user"] = user
    return communicator


@pytest.fixture
def quick_reads(monkeypatch):
    """The consumer reads the rows every 0.1 s, whichever channel layer runs the tests."""
    monkeypatch.setattr(consumers, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(consumers, "SHARED_POLL_SECONDS", 0.1)


def _texts(frames: list[dict]) -> list[str]:
    return [frame["text"] for frame in frames]


async def _receive(communicator, count: int) -> list[dict]:
    return [await communicator.receive_json_from(timeout=3) for _ in range(count)]


# --- kept, once the change commits ---------------------------------------------------------


def test_a_notification_is_kept_only_when_its_change_commits(amina):
    with pytest.raises(RuntimeError), transaction.atomic():
        notify_user(user_id=amina.pk, kind="team", text="Baraka joined.")
        raise RuntimeError("the change failed")
    assert not Notification.objects.exists()

    kept = notify_user(user_id=amina.pk, kind="team", text="Baraka joined.", link="/staff/team/")

    assert Notification.objects.get() == kept
    assert (kept.kind, kept.text, kept.link, kept.read_at) == (
        "team",
        "Baraka joined.",
        "/staff/team/",
        None,
    )


def test_the_same_news_under_one_key_is_kept_once_per_person(ines, pablo):
    first = notify_user(user_id=ines.pk, kind="repayment", text="Paid.", dedupe_key="d:1:2")
    again = notify_user(user_id=ines.pk, kind="repayment", text="Paid.", dedupe_key="d:1:2")
    pablos = notify_user(user_id=pablo.pk, kind="repayment", text="Paid.", dedupe_key="d:1:2")

    assert first is not None and again is None and pablos is not None
    assert Notification.objects.filter(user=ines).count() == 1


# --- live, over the WebSocket ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_amina_hears_when_her_invitee_joins(amina):
    communicator = _communicator(amina)
    connected, _ = await communicator.connect()
    assert connected

    kept = await sync_to_async(notify_user)(
        user_id=amina.pk, kind="team", text="Baraka joined.", link="/staff/team/"
    )

    frame = await communicator.receive_json_from(timeout=2)
    assert frame["id"] == kept.pk
    assert (frame["kind"], frame["text"], frame["link"], frame["read_at"]) == (
        "team",
        "Baraka joined.",
        "/staff/team/",
        None,
    )
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_anonymous_sockets_are_closed():
    communicator = _communicator()

    connected, code = await communicator.connect()

    assert not connected
    assert code == 4401


@pytest.mark.django_db(transaction=True)
async def test_a_page_that_reconnects_gets_what_it_missed_and_nothing_it_had(amina):
    notify = sync_to_async(notify_user)
    seen = await notify(user_id=amina.pk, kind="application", text="New application L-000001.")
    await notify(user_id=amina.pk, kind="application", text="New application L-000002.")
    await notify(user_id=amina.pk, kind="application", text="L-000001 was withdrawn.")

    communicator = _communicator(amina, f"/ws/notifications/?after={seen.pk}")
    connected, _ = await communicator.connect()
    assert connected

    assert _texts(await _receive(communicator, 2)) == [
        "New application L-000002.",
        "L-000001 was withdrawn.",
    ]
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_page_may_say_what_it_has_seen_once_the_socket_is_open(juma):
    notify = sync_to_async(notify_user)
    seen = await notify(user_id=juma.pk, kind="application", text="New application L-000003.")
    missed = await notify(user_id=juma.pk, kind="application", text="L-000003 needs a look.")
    communicator = _communicator(juma)
    assert (await communicator.connect())[0]
    assert await communicator.receive_nothing(timeout=0.2)  # no "after": only what is new

    await communicator.send_json_to({"after": seen.pk})

    assert (await communicator.receive_json_from(timeout=2))["id"] == missed.pk
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_news_kept_by_another_process_reaches_the_socket_by_its_own_reads(amina, quick_reads):
    """The worker keeps a notification (say, a pulled book's news) but its channel layer is
    not this web process's: the row alone must reach the page."""
    communicator = _communicator(amina, "/ws/notifications/?after=0")
    assert (await communicator.connect())[0]

    row = await Notification.objects.acreate(
        user=amina, kind="following", text="The funding book you follow was forked."
    )

    frame = await communicator.receive_json_from(timeout=3)
    assert (frame["id"], frame["text"]) == (row.pk, row.text)
    assert await communicator.receive_nothing(timeout=0.5)  # and only once
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_notification_heard_live_is_not_sent_again_by_the_reads(amina, quick_reads):
    communicator = _communicator(amina, "/ws/notifications/?after=0")
    assert (await communicator.connect())[0]

    await sync_to_async(notify_user)(user_id=amina.pk, kind="team", text="Baraka joined.")

    assert _texts(await _receive(communicator, 1)) == ["Baraka joined."]
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_notification_committed_after_a_newer_one_still_arrives(amina, quick_reads):
    """Ids are taken at insert, rows appear at commit: a slow transaction's lower id shows up
    after a higher one was sent."""
    communicator = _communicator(amina, "/ws/notifications/?after=0")
    assert (await communicator.connect())[0]
    newer = await Notification.objects.acreate(pk=1000, user=amina, kind="team", text="Newer.")
    assert (await communicator.receive_json_from(timeout=3))["id"] == newer.pk

    await Notification.objects.acreate(pk=999, user=amina, kind="team", text="Slow.")

    assert _texts(await _receive(communicator, 1)) == ["Slow."]
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_settled_notifications_are_remembered_by_one_number(amina, quick_reads):
    long_ago = timezone.now() - consumers.SETTLE - timedelta(seconds=1)
    for n in range(3):
        await Notification.objects.acreate(user=amina, kind="team", text=f"Old {n}.")
    await Notification.objects.filter(user=amina).aupdate(created_at=long_ago)
    communicator = _communicator(amina, "/ws/notifications/?after=0")
    assert (await communicator.connect())[0]
    assert _texts(await _receive(communicator, 3)) == ["Old 0.", "Old 1.", "Old 2."]

    fresh = await Notification.objects.acreate(user=amina, kind="team", text="Fresh.")

    assert (await communicator.receive_json_from(timeout=3))["id"] == fresh.pk
    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


# --- the API a page polls while its socket is down ---------------------------------------------


def test_pablo_reads_his_own_notifications_never_ines(client, ines, pablo):
    notify_user(user_id=ines.pk, kind="repayment", text="Repayment received for Ines.")
    own = notify_user(user_id=pablo.pk, kind="repayment", text="Repayment received for Pablo.")
    client.force_login(pablo)

    answer = client.get(API)

    assert answer.status_code == 200
    assert not schema_errors(client, API, answer)
    body = answer.json()
    assert [n["id"] for n in body["results"]] == [own.pk]
    assert (body["more"], body["unread"]) == (False, 1)


def test_the_api_pages_through_newer_notifications_oldest_first(client, ines):
    made = [notify_user(user_id=ines.pk, kind="repayment", text=f"Share {n}.") for n in range(5)]
    client.force_login(ines)

    first = client.get(API, {"after": made[0].pk, "limit": 2}).json()
    rest = client.get(API, {"after": first["results"][-1]["id"], "limit": 2}).json()
    last = client.get(API, {"after": rest["results"][-1]["id"], "limit": 2}).json()

    assert _texts(first["results"]) == ["Share 1.", "Share 2."] and first["more"]
    assert _texts(rest["results"]) == ["Share 3.", "Share 4."] and not rest["more"]
    assert last["results"] == [] and last["unread"] == 5


@pytest.mark.parametrize(
    "query", [{"after": "-1"}, {"after": "x"}, {"limit": "0"}, {"limit": "101"}]
)
def test_a_malformed_query_is_a_400_that_says_which_field(client, ines, query):
    client.force_login(ines)

    answer = client.get(API, query)

    assert answer.status_code == 400
    assert set(answer.json()["error"]["fields"]) == set(query)


def test_anonymous_callers_get_401(client):
    assert client.get(API).status_code == 401


# --- the bell and the notifications page -------------------------------------------------------


def test_the_header_bell_counts_the_unread_and_says_how_news_comes(client, juma):
    for n in range(2):
        last = notify_user(user_id=juma.pk, kind="application", text=f"New application {n}.")
    client.force_login(juma)

    page = client.get("/staff/").content.decode()

    bell = re.search(r'<a href="/notifications/" id="notification-bell"[^>]*>', page).group(0)
    assert 'data-live-state="connecting"' in bell
    assert f'data-last-id="{last.pk}"' in bell and f'data-poll="{API}"' in bell
    assert '<span class="bell-count"><span data-unread>2</span>' in page


def test_visiting_the_list_shows_the_newest_first_and_marks_them_read(client, juma, shared_cache):
    notify_user(user_id=juma.pk, kind="application", text="New application L-000001.")
    notify_user(
        user_id=juma.pk, kind="application", text="L-000001 needs a look.", link="/staff/loans/1/"
    )
    client.force_login(juma)
    assert _bell_shown(client) == ("2", ANY)  # kept, and read ahead with Juma on his next page

    page = client.get(PAGE).content.decode()

    assert page.index("L-000001 needs a look.") < page.index("New application L-000001.")
    assert '<a href="/staff/loans/1/">L-000001 needs a look.</a>' in page
    assert page.count('<span class="badge badge-new">new</span>') == 2  # new until this visit
    assert '<span class="bell-count" hidden><span data-unread>0</span>' in page
    assert not Notification.objects.filter(read_at=None).exists()


def test_mark_all_read_reads_every_page_and_needs_the_csrf_token(juma):
    for n in range(30):
        notify_user(user_id=juma.pk, kind="application", text=f"New application {n}.")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(juma)
    page = browser.get(PAGE).content.decode()
    assert "5 unread on other pages of this list." in page  # 25 a page, the first one seen
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    assert browser.post("/notifications/read/").status_code == 403
    answer = browser.post("/notifications/read/", {"csrfmiddlewaretoken": token}, follow=True)

    assert "All your notifications are marked read." in answer.content.decode()
    assert not Notification.objects.filter(read_at=None).exists()


def test_the_list_costs_the_same_queries_for_three_notifications_and_thirty(client, ines):
    for n in range(3):
        notify_user(user_id=ines.pk, kind="repayment", text=f"Share {n}.")
    client.force_login(ines)
    few = page_queries(client, PAGE)

    for n in range(27):
        notify_user(user_id=ines.pk, kind="repayment", text=f"More {n}.")

    assert page_queries(client, PAGE) == few
    assert page_queries(client, f"{PAGE}?page=2") == few


# --- the bell, kept per person while the node's processes share a cache ----------------------

PROFILE = "/accounts/profile/"


def _bell_shown(client) -> tuple[str, str]:
    """The unread count and the newest notification id the header's bell shows."""
    page = client.get(PROFILE).content.decode()
    return (
        re.search(r"<span data-unread>(\d+)</span>", page).group(1),
        re.search(r'data-last-id="(\d+)"', page).group(1),
    )


def _bell_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(PROFILE).status_code == 200
    return sum(Notification._meta.db_table in query["sql"] for query in captured)


def test_a_kept_bell_shows_a_new_notification_and_a_read_list_on_the_next_page(
    client, juma, pablo, shared_cache, django_capture_on_commit_callbacks
):
    first = notify_user(user_id=juma.pk, kind="application", text="New application L-000001.")
    client.force_login(juma)
    assert _bell_shown(client) == ("1", str(first.pk))
    assert _bell_queries(client) == 0  # kept from the page before

    with django_capture_on_commit_callbacks(execute=True):
        notify_user(user_id=pablo.pk, kind="repayment", text="Pablo's share.")
    assert _bell_queries(client) == 0  # Pablo's news is his bell's business

    with django_capture_on_commit_callbacks(execute=True):
        second = notify_user(user_id=juma.pk, kind="application", text="L-000001 needs a look.")
    assert _bell_shown(client) == ("2", str(second.pk))

    client.get(PAGE)  # seen
    assert _bell_shown(client) == ("0", str(second.pk))
    assert _bell_queries(client) == 0


def test_a_kept_bell_comes_with_the_person_in_one_round_trip(client, juma, shared_cache):
    client.force_login(juma)
    client.get(PROFILE)  # both kept now
    asked = []
    backend = type(caches["default"])  # the sessions' cache too, where the session comes along
    get_many = backend.get_many

    def asking(self, keys, *args, **kwargs):
        asked.append([key for key in keys if not key.startswith(cached_db.KEY_PREFIX)])
        return get_many(self, keys, *args, **kwargs)

    with mock.patch.object(backend, "get_many", asking):
        assert _bell_shown(client) == ("0", "0")

    person = [user_generation_key(juma.pk), kept_user_key(juma.pk)]
    # With them, the page at the address, where it may be kept (kept_pages.keys_to_read_ahead).
    assert [keys[:4] for keys in asked if "bell:" in str(keys)] == [person + bell_keys(juma.pk)]


def test_a_bell_read_before_the_notification_commits_is_read_again_after(
    juma, shared_cache, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        news = notify_user(user_id=juma.pk, kind="application", text="New application.")
        # Another request read the bell before this commit, and kept what it saw then.
        before = Bell(unread=0, latest=0)
        generation_now = generation(bell_generation_key(juma.pk))
        cache.set(f"bell:{juma.pk}", (generation_now, before))
        assert notification_bell(user=juma) == before

    assert notification_bell(user=juma) == Bell(unread=1, latest=news.pk)


def test_without_a_shared_cache_the_bell_shows_news_another_process_kept(client, juma, settings):
    settings.GROWR_CACHE_SHARED = False  # the embedded default: each process has its own cache
    client.force_login(juma)
    assert _bell_shown(client) == ("0", "0")

    # The worker keeps it: this process's cache never hears of it.
    news = Notification.objects.create(user=juma, kind="application", text="New application.")

    assert _bell_shown(client) == ("1", str(news.pk))


def test_the_list_asks_anonymous_visitors_to_sign_in(client):
    assert client.get(PAGE).url.startswith("/accounts/login/")


# --- pruning (beat, daily) ----------------------------------------------------------------------


def test_read_news_goes_after_the_keeping_time_unread_and_deduplicated_news_stays(
    ines, pablo, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from apps.identity import services, tasks

    monkeypatch.setattr(services, "PRUNE_BATCH", 1)  # one statement per notification
    now = timezone.now()
    long_ago = now - settings.GROWR_NOTIFICATIONS_KEEP_READ - timedelta(days=1)
    with django_capture_on_commit_callbacks():
        read_long_ago = notify_user(user_id=ines.pk, kind="repayment", text="old, read")
        pablo_read_long_ago = notify_user(user_id=pablo.pk, kind="commitment", text="old, read")
        unread_long_ago = notify_user(user_id=ines.pk, kind="repayment", text="old, unread")
        read_lately = notify_user(user_id=pablo.pk, kind="repayment", text="read yesterday")
        told_once = notify_user(
            user_id=ines.pk, kind="repayment", text="from a book", dedupe_key="distribution:x"
        )
    Notification.objects.filter(
        pk__in=[read_long_ago.pk, pablo_read_long_ago.pk, told_once.pk]
    ).update(created_at=long_ago, read_at=long_ago)
    Notification.objects.filter(pk=unread_long_ago.pk).update(created_at=long_ago)
    Notification.objects.filter(pk=read_lately.pk).update(read_at=now - timedelta(days=1))

    assert tasks.notifications_prune_task() == 2

    assert set(Notification.objects.values_list("pk", flat=True)) == {
        unread_long_ago.pk,
        read_lately.pk,
        told_once.pk,
    }
    # The de-duplicated news is still not told twice.
    assert (
        notify_user(user_id=ines.pk, kind="repayment", text="again", dedupe_key="distribution:x")
        is None
    )
    assert services.notifications_prune(read_before=now) == 1  # Pablo's, read yesterday
