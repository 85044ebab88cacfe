"""Staff page "Network": Amina (admin) and Juma (agent) see the nodes this node knows, live;
Amina chooses seeds and which peer books to follow, Juma may not; borrowers and investors do
not see the page. An investor node follows every originator's projects, funding and payments
books by itself."""

from __future__ import annotations

import datetime as dt

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings
from django.utils import timezone

from apps.discovery import consumers, selectors, services
from apps.discovery.gossip.agent import AgentStatus, PeerState, PeerView
from apps.discovery.gossip.claims import BookAnnouncement, Role, Status
from apps.discovery.gossip.records import network_id_for
from apps.discovery.models import Ban, NodeIdentity, Peer, Seed
from apps.ledger.models import Follow
from growr_site.asgi import application
from tests.discovery.records import node_key, signed_record
from tests.queries import page_queries

NETWORK = network_id_for("growr-test")
AGENT_STATUS = AgentStatus(b"n" * 32, 1, 0, 0, {"wrong network": 2}, 1, 5, {}, 0)


def _record(name: str, *, role=Role.ORIGINATOR, books=(), port=7001):
    key = node_key(name)
    return signed_record(key, network_id=NETWORK, name=name, role=role, port=port, books=books)


def _book(kind: str, fill: bytes, length: int = 4) -> BookAnnouncement:
    return BookAnnouncement(key=fill * 32, kind=kind, length=length)


def _heard(*records, states=()) -> None:
    services.agent_view_save(view=PeerView(list(records), list(states), [], AGENT_STATUS))


@pytest.fixture
def amani(db):
    """An originator node this node heard of, announcing its projects and loans books."""
    services.node_identity_start()
    record = _record("Amani Microfinance", books=(_book("projects", b"p"), _book("loans", b"l")))
    _heard(record, states=[PeerState(record.node_id, Status.ALIVE, 1)])
    return record


def test_amina_sees_the_nodes_their_books_and_the_picture(client, amina, amani):
    client.force_login(amina)

    page = client.get("/staff/network/").content.decode()

    assert "Amani Microfinance" in page
    assert "<svg" in page and "link-alive" in page
    assert "1 other node known: 1 alive." in page
    assert "wrong network: 2" in page
    assert "Stale or replayed updates</dt><dd>5" in page
    assert "Follow<span" in page
    assert "The discovery agent is not running" not in page  # the flush was its heartbeat


def test_a_peer_without_books_is_listed_and_the_books_table_says_none_are_announced(
    client, juma, db
):
    services.node_identity_start()
    _heard(_record("Baraka Credit"))
    client.force_login(juma)

    page = client.get("/staff/network/").content.decode()

    assert "Baraka Credit" in page
    assert "No peer announces a book yet." in page


def test_the_page_says_when_the_agent_is_silent(client, juma, amani):
    NodeIdentity.objects.update(heartbeat_at=timezone.now() - dt.timedelta(minutes=5))
    client.force_login(juma)

    page = client.get("/staff/network/").content.decode()

    assert "The discovery agent is not running" in page


def test_the_page_costs_the_same_queries_for_three_peers_and_thirty(client, amina, amani):
    client.force_login(amina)

    few = page_queries(client, "/staff/network/")
    _heard(*[_record(f"Node {i}", books=(_book("projects", bytes([i]), i),)) for i in range(30)])
    assert Peer.objects.count() == 31
    assert page_queries(client, "/staff/network/") == few


def test_amina_follows_and_unfollows_a_book_a_peer_announces(client, amina, amani):
    client.force_login(amina)
    key = "70" * 32  # the projects book of Amani: b"p" * 32

    followed = client.post(f"/staff/network/books/{key}/follow/", follow=True)
    follow = Follow.objects.select_related("log").get()
    unfollowed = client.post(f"/staff/network/books/{key}/unfollow/", follow=True)

    assert "now follows the projects book" in followed.content.decode()
    assert (follow.log.book, bytes(follow.publisher), follow.chosen_by) == (
        "projects",
        amani.node_id,
        amina,
    )
    assert "no longer follows" in unfollowed.content.decode()
    assert not Follow.objects.exists()


def test_following_a_book_nobody_announces_is_refused_with_a_message(client, amina, amani):
    client.force_login(amina)

    response = client.post(f"/staff/network/books/{'ab' * 32}/follow/", follow=True)
    malformed = client.post("/staff/network/books/not-a-key/follow/")

    assert "No known node announces that book." in response.content.decode()
    assert malformed.status_code == 404
    assert not Follow.objects.exists()


def test_juma_sees_the_page_but_may_not_follow_books_or_change_seeds(client, juma, amani):
    client.force_login(juma)

    page = client.get("/staff/network/").content.decode()
    follow = client.post(f"/staff/network/books/{'70' * 32}/follow/")
    seed = client.post("/staff/network/seeds/", {"address": "seed.example:7946"})

    assert "Amani Microfinance" in page and "Follow<span" not in page
    assert (follow.status_code, seed.status_code) == (403, 403)
    assert not Follow.objects.exists() and not Seed.objects.exists()


def test_amina_adds_a_seed_and_a_bad_address_is_explained(client, amina, db):
    client.force_login(amina)

    bad = client.post("/staff/network/seeds/", {"address": "seed.example:99999"})
    good = client.post("/staff/network/seeds/", {"address": "seed.example:7946"}, follow=True)
    seed = Seed.objects.get()
    removed = client.post(f"/staff/network/seeds/{seed.pk}/remove/", follow=True)

    assert bad.status_code == 400
    assert "the port must be a number from 1 to 65535" in bad.content.decode()
    assert "Seed seed.example:7946 added" in good.content.decode()
    assert "Seed removed." in removed.content.decode()
    assert not Seed.objects.exists()


def test_borrowers_and_investors_cannot_open_it(client, wanjiru, ines, db):
    for person in (wanjiru, ines):
        client.force_login(person)
        assert client.get("/staff/network/").status_code == 403
    client.logout()
    assert client.get("/staff/network/").status_code == 302


@override_settings(GROWR_NODE_ROLE="investor")
def test_an_investor_node_follows_every_originators_projects_funding_payments_and_loans(db):
    services.node_identity_start()
    books = ("projects", "loans", "funding", "payments", "credential_status")
    amani = _record(
        "Amani Microfinance", books=tuple(_book(book, bytes([n])) for n, book in enumerate(books))
    )
    pablo = _record("Pablo's node", role=Role.INVESTOR, books=(_book("projects", b"q"),))

    _heard(amani, pablo)
    _heard(amani)  # heard again: still one follow of each

    follows = Follow.objects.select_related("log").order_by("log__book")
    assert [(f.log.book, bytes(f.log.key)) for f in follows] == [
        ("funding", bytes([2]) * 32),
        ("loans", bytes([1]) * 32),
        ("payments", bytes([3]) * 32),
        ("projects", bytes([0]) * 32),
    ]
    assert {(bytes(f.publisher), f.chosen_by) for f in follows} == {(amani.node_id, None)}


def test_an_originator_node_follows_other_originators_credential_status_books_only(amani):
    assert not Follow.objects.exists()  # amani announces projects and loans
    baraka = _record(
        "Baraka Credit", books=(_book("projects", b"q"), _book("credential_status", b"s"))
    )
    pablo = _record("Pablo's node", role=Role.INVESTOR, books=(_book("credential_status", b"t"),))

    _heard(baraka, pablo)

    follow = Follow.objects.get()
    assert (bytes(follow.log.key), follow.log.book) == (b"s" * 32, "credential_status")


def _communicator(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, "/ws/network/", headers=[(b"origin", b"http://127.0.0.1")]
    )
    communicator.scope["user"] = user
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_the_open_page_hears_a_node_turn_suspect(monkeypatch):
    from tests.factories import OrganizationFactory, StaffFactory

    monkeypatch.setattr(consumers, "POLL_SECONDS", 0.05)
    juma = await sync_to_async(StaffFactory)(
        role="originator_agent", organization=await sync_to_async(OrganizationFactory)()
    )
    await sync_to_async(services.node_identity_start)()
    record = _record("Amani Microfinance")
    await sync_to_async(_heard)(record, states=[PeerState(record.node_id, Status.ALIVE, 1)])
    communicator = _communicator(juma)
    connected, _ = await communicator.connect()
    assert connected

    first = await communicator.receive_json_from(timeout=2)
    await sync_to_async(_heard)(states=[PeerState(record.node_id, Status.SUSPECT, 1)])
    second = await communicator.receive_json_from(timeout=2)

    assert "badge-alive" in first["html"] and first["summary"] == "1 other node known: 1 alive."
    assert "badge-suspect" in second["html"]
    assert second["summary"] == "1 other node known: 1 suspect."
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_investor_cannot_open_the_live_feed():
    from tests.factories import UserFactory

    ines = await sync_to_async(UserFactory)(role="investor")
    communicator = _communicator(ines)

    connected, code = await communicator.connect()

    assert not connected and code == consumers.CLOSE_FORBIDDEN


def test_a_page_whose_socket_dropped_reads_the_same_live_part_over_http(client, juma, amani):
    """network.js asks this endpoint every 15 s while /ws/network/ is down."""
    client.force_login(juma)
    page = client.get("/staff/network/").content.decode()
    assert 'data-socket="/ws/network/" data-poll="/staff/network/live/"' in page

    _heard(states=[PeerState(amani.node_id, Status.SUSPECT, 1)])
    answer = client.get("/staff/network/live/")

    assert answer.status_code == 200 and "no-cache" in answer["Cache-Control"]
    assert "badge-suspect" in answer.json()["html"]
    assert answer.json()["summary"] == "1 other node known: 1 suspect."


def test_only_staff_read_the_live_part(client, ines):
    client.force_login(ines)

    assert client.get("/staff/network/live/").status_code == 403


def test_amina_bans_a_node_with_a_reason_and_lifts_the_ban(client, amina, amani):
    client.force_login(amina)
    node_id = amani.node_id.hex()

    reasonless = client.post("/staff/network/bans/", {"node_id": node_id, "reason": " "})
    unknown = client.post("/staff/network/bans/", {"node_id": "ab" * 32, "reason": "spam"})
    banned = client.post(
        "/staff/network/bans/", {"node_id": node_id, "reason": "spam"}, follow=True
    )

    assert reasonless.status_code == 400 and unknown.status_code == 400
    assert "No known node has that id." in unknown.content.decode()
    assert "Node banned" in banned.content.decode()
    assert (bytes(Ban.objects.get().node_id), Ban.objects.get().banned_by) == (amani.node_id, amina)
    assert selectors.banned_node_ids() == {amani.node_id}

    client.post(f"/staff/network/bans/{node_id}/lift/")

    assert not Ban.objects.exists()


def test_juma_may_not_ban_a_node(client, juma, amani):
    client.force_login(juma)

    response = client.post("/staff/network/bans/", {"node_id": amani.node_id.hex(), "reason": "x"})

    assert response.status_code == 403
    assert not Ban.objects.exists()


def test_a_followed_book_announced_longer_than_the_copy_is_pulled_at_once(
    amani, django_capture_on_commit_callbacks, monkeypatch
):
    from apps.discovery import services as discovery_services
    from apps.ledger.follow_services import follow_start

    pulled = []
    monkeypatch.setattr(discovery_services.follow_pull_task, "delay", pulled.append)
    follow = follow_start(key=b"p" * 32, kind="projects", sources=[])
    longer = signed_record(
        node_key("Amani Microfinance"),
        network_id=NETWORK,
        name="Amani Microfinance",
        port=7001,
        seq=2,
        books=(_book("projects", b"p", length=9), _book("loans", b"l")),
    )

    with django_capture_on_commit_callbacks(execute=True):
        _heard(longer)
    with django_capture_on_commit_callbacks(execute=True):
        _heard(longer)  # heard again: its length is what counts, still ahead of the copy

    assert pulled == [follow.pk, follow.pk]
    assert list(follow.sources.values_list("url", flat=True)) == [
        "https://amani-microfinance.example"
    ]


@override_settings(GROWR_NODE_ROLE="investor")
def test_an_investor_node_follows_only_so_many_books_by_itself(db, monkeypatch):
    monkeypatch.setattr(services, "AUTO_FOLLOW_LIMIT", 2)
    services.node_identity_start()
    originators = [
        _record(f"Originator {n}", books=(_book("projects", bytes([n])),)) for n in range(4)
    ]

    _heard(*originators)

    assert Follow.objects.count() == 2


@override_settings(GROWR_NODE_ROLE="investor")
def test_an_investor_node_does_not_follow_a_copy_by_itself(db):
    services.node_identity_start()
    baraka = _record("Baraka Credit", books=(_book("projects@copy", b"p"),))

    _heard(baraka)

    assert not Follow.objects.exists()


def test_a_follow_names_the_writer_as_publisher_and_every_holder_as_a_source(client, amina, amani):
    baraka = _record("Baraka Credit", books=(_book("projects@copy", b"p"),), port=7002)
    _heard(baraka)  # seen after amani: first among announcers
    client.force_login(amina)

    page = client.get("/staff/network/").content.decode()
    client.post(f"/staff/network/books/{'70' * 32}/follow/")

    assert "(a copy it serves)" in page
    follow = Follow.objects.select_related("log").get()
    assert (bytes(follow.publisher), follow.log.book) == (amani.node_id, "projects")
    assert set(follow.sources.values_list("url", flat=True)) == {
        "https://amani-microfinance.example",
        "https://baraka-credit.example",
    }
