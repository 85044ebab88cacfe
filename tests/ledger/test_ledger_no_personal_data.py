"""Personal data entered through every path the node has never appears in any public block."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.identity.models import Role
from apps.identity.services import staff_invitation_accept, staff_invitation_create
from apps.ledger.models import Block, Book, Log
from apps.ledger.tasks import outbox_sweep_task
from apps.node.tasks import node_profile_sync_task

pytestmark = pytest.mark.django_db(transaction=True)

PERSONAL = {
    "name": "Achieng Atieno Were",
    "email": "achieng.were@example.org",
    "staff_name": "Baraka Kiprotich Mwangi",
    "staff_email": "baraka.mwangi@kijani.example",
    "new_name": "Achieng A. Were-Odhiambo",
}


def test_no_block_of_any_book_carries_personal_data(client, amina):
    client.post(
        reverse("register-borrower"),
        {
            "full_name": PERSONAL["name"],
            "email": PERSONAL["email"],
            "password1": "maize and beans 2026",
            "password2": "maize and beans 2026",
        },
    )
    client.post(reverse("profile"), {"full_name": PERSONAL["new_name"]})
    _, token = staff_invitation_create(
        invited_by=amina, email=PERSONAL["staff_email"], role=Role.ORIGINATOR_AGENT
    )
    staff_invitation_accept(
        token=token, full_name=PERSONAL["staff_name"], password="tea farm ledger 9"
    )
    call_command("seed_demo")
    node_profile_sync_task()
    outbox_sweep_task()

    assert Log.objects.count() == len(Book.values)
    blocks = list(Block.objects.values_list("data", flat=True))
    assert blocks, "the node profile was published"
    known_people = [amina.email, amina.full_name, *PERSONAL.values(), "Wanjiru Borrower"]
    for data in blocks:
        text = bytes(data).decode().lower()
        for value in known_people:
            assert value.lower() not in text
            assert value.split("@")[0].lower() not in text
