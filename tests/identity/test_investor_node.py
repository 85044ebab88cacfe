"""An investor node (GROWR_NODE_ROLE=investor) serves only the investor portal."""

from __future__ import annotations

import pytest
from django.urls import reverse


@pytest.fixture
def investor_node(settings):
    settings.GROWR_NODE_ROLE = "investor"


def test_ines_invests_from_her_own_node(client, investor_node, ines):
    client.force_login(ines)

    assert client.get("/invest/").status_code == 200


@pytest.mark.parametrize("path", ["/borrow/", "/staff/", "/staff/team/"])
def test_borrower_and_staff_portals_do_not_exist_there(client, investor_node, amina, path):
    client.force_login(amina)

    assert client.get(path).status_code == 404


def test_borrowers_cannot_register_there_but_investors_can(client, investor_node, db):
    assert client.get(reverse("register-borrower")).status_code == 404
    assert client.get(reverse("register-investor")).status_code == 200
    landing = client.get("/").content.decode()
    assert "Open an investor account" in landing
    assert "Open a borrower account" not in landing


@pytest.mark.parametrize(
    ("path", "person"), [("/api/staff/loans/", "amina"), ("/api/loans/", "wanjiru")]
)
def test_nor_the_staff_and_borrower_api(client, investor_node, request, path, person):
    client.force_login(request.getfixturevalue(person))

    answer = client.get(path)

    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "This node does not serve this part of the API."


def test_the_investor_api_is_there(client, investor_node, ines):
    client.force_login(ines)

    assert client.get("/api/network/commitments/").status_code == 200
