"""django-axes locks an e-mail + address pair after repeated failures, on pages and API alike."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse


def test_repeated_wrong_passwords_lock_the_account_for_that_address(client, wanjiru):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": wanjiru.email, "password": "guess"})

    locked = client.post(
        reverse("login"),
        {"username": wanjiru.email, "password": "correct horse battery staple"},
    )

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()


def test_a_lockout_of_one_person_does_not_lock_another(client, wanjiru, otieno):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": wanjiru.email, "password": "guess"})

    response = client.post(
        reverse("login"),
        {"username": otieno.email, "password": "correct horse battery staple"},
    )

    assert response.status_code == 302


def test_the_token_api_is_throttled_too(client, ines):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("api-token"), {"email": ines.email, "password": "guess"})

    response = client.post(
        reverse("api-token"), {"email": ines.email, "password": "correct horse battery staple"}
    )

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "locked_out"
