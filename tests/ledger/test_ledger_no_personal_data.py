"""Personal data entered through every path the node has never appears in any public block."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.identity.credential_services import credential_issue, credential_revoke
from apps.identity.models import Role, User, Wallet
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
    "birth_date": "1993-08-21",
    "id_number": "31415926",
    "address": "Kanduyi Market Lane 4, Bungoma",
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
    achieng = User.objects.get(email=PERSONAL["email"])
    kyc = {
        "given_name": "Achieng",
        "family_name": "Atieno Were",
        "birthdate": PERSONAL["birth_date"],
        "nationality": "KE",
        "address": PERSONAL["address"],
        "id_number": PERSONAL["id_number"],
    }
    credential_issue(issuer=amina, holder=achieng, credential_type="kyc", claims=kyc)
    age = credential_issue(
        issuer=amina,
        holder=achieng,
        credential_type="age",
        claims={"birthDate": PERSONAL["birth_date"]},
    )
    credential_revoke(actor=amina, credential=age, reason=f"{PERSONAL['name']} asked")
    call_command("seed_demo")
    node_profile_sync_task()
    outbox_sweep_task()

    assert Log.objects.count() == len(Book.values)
    blocks = list(Block.objects.values_list("data", flat=True))
    assert blocks, "the node profile was published"
    known_people = [amina.email, amina.full_name, *PERSONAL.values(), "Wanjiru Borrower"]
    # Nor a borrower's DID: only organizations' DIDs (issuers of status lists) are public.
    known_people += list(Wallet.objects.filter(user__isnull=False).values_list("did", flat=True))
    for data in blocks:
        text = bytes(data).decode().lower()
        for value in known_people:
            assert value.lower() not in text
            assert value.split("@")[0].lower() not in text
