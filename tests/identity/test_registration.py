"""Borrowers and investors open their own accounts; nobody registers themselves as staff."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from apps.identity.models import Role, User
from apps.identity.services import user_self_register

GOOD = {
    "full_name": "Achieng Were",
    "password1": "maize and beans 2026",
    "password2": "maize and beans 2026",
}


@pytest.mark.parametrize(
    ("url_name", "role", "portal"),
    [
        ("register-borrower", Role.BORROWER, "/borrow/"),
        ("register-investor", Role.INVESTOR, "/invest/"),
    ],
)
def test_a_newcomer_registers_and_lands_in_their_portal(client, db, url_name, role, portal):
    response = client.post(reverse(url_name), {**GOOD, "email": "Achieng@Example.org"})

    assert response.status_code == 302
    assert response["Location"] == portal
    user = User.objects.get()
    assert (user.email, user.role, user.organization) == ("achieng@example.org", role, None)
    assert client.get(portal).status_code == 200


def test_the_same_address_cannot_register_twice(client, wanjiru):
    response = client.post(reverse("register-borrower"), {**GOOD, "email": wanjiru.email.upper()})

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password2": "something else 2026"}, "The two passwords are not the same."),
        ({"password1": "12345678", "password2": "12345678"}, "This password is too common."),
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"full_name": ""}, "This field is required."),
    ],
)
def test_bad_registration_input_is_explained_and_nothing_is_stored(client, db, changes, message):
    response = client.post(
        reverse("register-investor"), {**GOOD, "email": "new@example.org", **changes}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.parametrize("role", [Role.ORIGINATOR_ADMIN, Role.ORIGINATOR_AGENT, Role.NODE_OPERATOR])
def test_staff_and_operator_roles_cannot_be_self_registered(db, role):
    with pytest.raises(PermissionDenied):
        user_self_register(
            email="sneaky@example.org",
            full_name="Sneaky",
            password="maize and beans 2026",
            role=role,
        )
    assert not User.objects.exists()


def test_a_person_edits_their_name(client, otieno):
    client.force_login(otieno)

    response = client.post(reverse("profile"), {"full_name": "Otieno O. Ouma"})

    assert response.status_code == 302
    otieno.refresh_from_db()
    assert otieno.full_name == "Otieno O. Ouma"
