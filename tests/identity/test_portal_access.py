"""Each role reaches its own portal; every other role is refused, never with a 500."""

from __future__ import annotations

import pytest
from django.urls import clear_script_prefix, reverse, set_script_prefix

PORTALS = {"staff": "/staff/", "borrow": "/borrow/", "invest": "/invest/"}


@pytest.mark.parametrize("path", [*PORTALS.values(), "/staff/team/", "/accounts/profile/"])
def test_anonymous_visitor_is_sent_to_login(client, db, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={path}"


@pytest.mark.parametrize(
    ("persona", "own_portal", "heading"),
    [
        ("amina", "staff", "Welcome, Amina"),
        ("juma", "staff", "Welcome, Juma"),
        ("wanjiru", "borrow", "Hello, Wanjiru"),
        ("ines", "invest", "Hello, Ines"),
    ],
)
def test_each_role_sees_its_own_home_and_is_refused_elsewhere(
    client, request, persona, own_portal, heading
):
    client.force_login(request.getfixturevalue(persona))

    home = client.get(PORTALS[own_portal])
    assert home.status_code == 200
    assert heading in home.content.decode()
    for portal, path in PORTALS.items():
        if portal != own_portal:
            refused = client.get(path)
            assert refused.status_code == 403, path
            assert "You do not have access to this page." in refused.content.decode()


def test_signing_in_lands_each_person_in_their_portal(client, amina, wanjiru, ines, ngozi):
    for person, expected in [
        (amina, "/staff/"),
        (wanjiru, "/borrow/"),
        (ines, "/invest/"),
        (ngozi, "/admin/"),
    ]:
        response = client.post(
            reverse("login"),
            {"username": person.email, "password": "correct horse battery staple"},
        )
        assert response.status_code == 302
        assert client.get(response["Location"])["Location"] == expected
        client.post(reverse("logout"))


def test_wrong_password_is_refused_with_a_clear_message(client, wanjiru):
    response = client.post(
        reverse("login"), {"username": wanjiru.email, "password": "not my password"}
    )

    assert response.status_code == 200
    assert "E-mail or password is wrong." in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_suspended_staff_member_cannot_open_the_dashboard(client, juma):
    juma.is_active = False
    juma.save()
    client.force_login(juma)

    response = client.get("/staff/")

    assert response.status_code in (302, 403)


def test_only_node_operators_open_the_admin_site(client, amina, ngozi):
    client.force_login(amina)
    assert client.get("/admin/").status_code == 302

    client.force_login(ngozi)
    assert client.get("/admin/").status_code == 200


def test_unknown_page_is_a_friendly_404(client, db):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert "This page does not exist." in response.content.decode()


def test_the_layout_links_start_with_the_address_the_node_is_served_under(client, wanjiru):
    # The layout's links are reversed once per process and address prefix (layout_tags).
    client.force_login(wanjiru)
    logout, profile = reverse("logout"), reverse("profile")

    at_the_root = client.get("/borrow/").content.decode()
    set_script_prefix("/growr/")  # as a server mounting the node under /growr/ has it
    try:
        under_a_prefix = client.get("/borrow/").content.decode()
    finally:
        clear_script_prefix()

    assert f'action="{logout}"' in at_the_root and f'href="{profile}"' in at_the_root
    assert f'action="/growr{logout}"' in under_a_prefix
    assert f'href="/growr{profile}"' in under_a_prefix
    assert 'href="/growr/borrow/credentials/"' in under_a_prefix  # the navigation too
