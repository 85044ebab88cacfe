"""Changing a password, and resetting a forgotten one through the e-mailed link."""

from __future__ import annotations

import re

from django.core import mail
from django.urls import reverse

OLD = "correct horse battery staple"
NEW = "sorghum harvest 2027"


def _signs_in(client, email: str, password: str) -> bool:
    client.post(reverse("logout"))
    response = client.post(reverse("login"), {"username": email, "password": password})
    client.post(reverse("logout"))
    return response.status_code == 302


def test_otieno_changes_his_password(client, otieno):
    client.force_login(otieno)

    response = client.post(
        reverse("password_change"),
        {"old_password": OLD, "new_password1": NEW, "new_password2": NEW},
    )

    assert response.status_code == 302
    assert not _signs_in(client, otieno.email, OLD)
    assert _signs_in(client, otieno.email, NEW)


def test_a_wrong_old_password_changes_nothing(client, otieno):
    client.force_login(otieno)

    response = client.post(
        reverse("password_change"),
        {"old_password": "guess", "new_password1": NEW, "new_password2": NEW},
    )

    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    assert _signs_in(client, otieno.email, OLD)


def test_pablo_resets_a_forgotten_password_through_the_emailed_link(client, pablo):
    client.post(reverse("password_reset"), {"email": pablo.email})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/password/reset/\S+/", mail.outbox[0].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]

    form_page = client.get("/" + path, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW}
    )

    assert done.status_code == 302
    assert _signs_in(client, pablo.email, NEW)
    assert client.get("/" + path, follow=True).context["validlink"] is False


def test_a_reset_for_an_unknown_address_reveals_nothing(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})

    assert response.status_code == 302
    assert mail.outbox == []
