"""Ines browses the projects of the network: this node's own and those of the books it follows,
with where each comes from and a verified badge. Borrowers and staff do not see the page."""

from __future__ import annotations

import uuid

import pytest

from tests.queries import page_queries

from .network_books import publish_projects

pytestmark = pytest.mark.django_db


def test_ines_sees_own_and_followed_projects_with_their_origin(
    client, ines, kijani_projects, amani_projects
):
    client.force_login(ines)

    page = client.get("/invest/projects/").content.decode()

    assert "5 projects" in page
    assert "Kijani dairy goats" in page and "(this node)" in page
    assert "Amani boda-boda 2" in page and "Amani Microfinance" in page
    assert page.count('badge-alive">verified') == 5
    assert f"/api/books/{amani_projects.key.hex()}/entry/?key=project:" in page
    # Each project links to its page on the node it comes from.
    amani_id = uuid.uuid5(uuid.NAMESPACE_URL, "Amani boda-boda 2")
    assert f'href="https://amani-microfinance.example/projects/{amani_id}/"' in page


def test_the_catalogue_costs_the_same_queries_for_few_and_many_projects(
    client, ines, kijani_projects
):
    client.force_login(ines)

    few = page_queries(client, "/invest/projects/")
    publish_projects(*(f"Kijani project {n}" for n in range(20)))
    assert page_queries(client, "/invest/projects/") == few


def test_a_new_project_shows_at_once_and_the_page_costs_less_until_then(
    client, ines, kijani_projects
):
    client.force_login(ines)

    assert "2 projects" in client.get("/invest/projects/").content.decode()
    assert page_queries(client, "/invest/projects/", cached=True) < page_queries(
        client, "/invest/projects/"
    )
    publish_projects("Kijani maize mill")
    page = client.get("/invest/projects/").content.decode()
    assert "3 projects" in page and "Kijani maize mill" in page


def test_an_empty_network_says_where_projects_come_from(client, pablo, db):
    client.force_login(pablo)

    page = client.get("/invest/projects/?page=oops").content.decode()

    assert "No project yet" in page


def test_borrowers_and_staff_cannot_open_it(client, wanjiru, amina):
    for person in (wanjiru, amina):
        client.force_login(person)
        assert client.get("/invest/projects/").status_code == 403
    client.logout()
    assert client.get("/invest/projects/").status_code == 302


def test_the_demo_nodes_own_projects_are_listed_by_name(client, db):
    """Real project entries name a project by "name"; the page used to fail on a missing
    "title" (a filter argument that does not resolve raises, unlike a variable)."""
    from django.core.management import call_command

    from apps.identity.models import User
    from apps.ledger.services import outbox_flush

    call_command("seed_demo")
    outbox_flush(book="projects")
    client.force_login(User.objects.get(email="ines@demo.growr.test"))
    client.raise_request_exception = True
    page = client.get("/invest/projects/").content.decode()
    assert "Dairy goats for Nakuru smallholders" in page and "Rice inputs for the" in page
