"""Two real nodes on loopback. Kijani's originator node publishes its projects; Ines runs her own
investor node, which follows Kijani's projects and funding books. From her node she commits to
the rice project, signed with her own key; Kijani's staff confirm the funds they received and
record a repayment of Otieno's loan under that project; her node learns both from the
replicated funding book, and both nodes show the same position and share to the cent. Her node
tells her of both, once each, however often it pulls the book."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

pytestmark = pytest.mark.processes

ORIGINATOR_SETUP = """
import json
from apps.node.demo import demo_data_ensure
from apps.ledger.services import log_for_book
from apps.projects.models import Project
demo_data_ensure()
rice = Project.objects.get(name__startswith="Rice inputs")  # Otieno's loan is active under it
print(json.dumps({
    "project": str(rice.pk),
    "projects": bytes(log_for_book(book="projects").key).hex(),
    "funding": bytes(log_for_book(book="funding").key).hex(),
}))
"""

INVESTOR_SETUP = """
from apps.identity.services import user_self_register
from apps.identity.wallet_services import wallet_of_user
ines = user_self_register(email="ines@own.node", full_name="Ines Duarte",
                          password="tilapia ponds of Kisumu 9", role="investor")
print(wallet_of_user(user=ines).did)
"""

COMMIT = """
import json
from apps.funding.services import remote_commitment_send
from apps.identity.models import User
sent = remote_commitment_send(
    investor=User.objects.get(email="ines@own.node"), book_key="{projects}",
    project_id="{project}", amount="{amount}", request_id="ines-own-node-1",
)
print(json.dumps({{"commitment": str(sent.commitment_id), "status": sent.answered_status}}))
"""

CONFIRM_AND_REPAY = """
import json
from django.utils import timezone
from apps.applications.models import Loan
from apps.applications.services import repayment_record
from apps.funding.models import Commitment
from apps.funding.services import commitment_confirm
from apps.identity.models import User
agent = User.objects.get(email="agent@kijani.demo.growr.test")
commitment = Commitment.objects.get(public_id="{commitment}")
commitment_confirm(actor=agent, commitment=commitment, reference="KCB-778812")
payment = repayment_record(actor=agent, loan=Loan.objects.get(), amount="4000",
                           reference="MPESA-QZ1", rail="mobile_money",
                           paid_on=timezone.localdate())
commitment.refresh_from_db()
share = commitment.distributions.get(payment_public_id=payment.public_id)
print(json.dumps({{"did": commitment.investor_did, "status": commitment.status,
                   "amount": str(commitment.amount), "local": commitment.investor_id,
                   "principal": str(share.principal), "interest": str(share.interest),
                   "paid": str(payment.principal + payment.interest)}}))
"""

POSITION = """
import json
from apps.funding.selectors import remote_commitments
from apps.identity.models import User
[position] = remote_commitments(investor=User.objects.get(email="ines@own.node"))
print(json.dumps({"status": position.status, "amount": str(position.commitment.amount),
                  "project": position.commitment.project_name,
                  "principal": str(position.principal_returned),
                  "interest": str(position.interest_received)}))
"""

NEWS = """
import json
from apps.identity.models import Notification
print(json.dumps([[n.kind, n.text, n.link] for n in Notification.objects.order_by("id")]))
"""


def last_json(result) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_ines_funds_kijanis_project_from_her_own_node(network):
    kijani = network("kijani")
    books = last_json(kijani.manage("shell", "-c", ORIGINATOR_SETUP))
    kijani.serve("web,worker")
    own = network("ines-node", GROWR_NODE_ROLE="investor")
    registered = own.manage("shell", "-c", INVESTOR_SETUP)
    assert registered.returncode == 0, registered.stderr[-3000:]
    ines_did = registered.stdout.strip().splitlines()[-1]
    for kind in ("projects", "funding"):
        followed = own.manage("follow", books[kind], kijani.url, "--kind", kind, "--pull")
        assert followed.returncode == 0, followed.stderr

    # Below the minimum ticket: Kijani's node refuses, and says why.
    refused = own.manage("shell", "-c", COMMIT.format(**books, amount="999"))
    assert refused.returncode != 0 and "minimum ticket" in refused.stderr

    sent = last_json(own.manage("shell", "-c", COMMIT.format(**books, amount="25000")))
    assert sent["status"] == "pending"
    # Sent again (a retry): the same commitment on both nodes.
    again = last_json(own.manage("shell", "-c", COMMIT.format(**books, amount="25000")))
    assert again == sent

    confirmed = last_json(kijani.manage("shell", "-c", CONFIRM_AND_REPAY.format(**sent)))
    paid = {name: confirmed.pop(name) for name in ("principal", "interest", "paid")}
    assert confirmed == {"did": ines_did, "status": "confirmed", "amount": "25000.000",
                         "local": None}  # fmt: skip

    for _ in range(20):  # the worker appends the confirmation to the funding book
        pulled = own.manage("follow", books["funding"], kijani.url, "--kind", "funding", "--pull")
        assert pulled.returncode == 0, pulled.stderr
        position = last_json(own.manage("shell", "-c", POSITION))
        if position["status"] == "confirmed" and Decimal(position["principal"]):
            break
    assert (position["status"], position["amount"], position["project"]) == (
        "confirmed",
        "25000.000",
        "Rice inputs for the Kisumu long rains",
    )
    # Her share (25,000 of the 35,000 confirmed: the demo's Ines has 10,000) is the same to the
    # cent on both nodes.
    for part in ("principal", "interest"):
        assert Decimal(position[part]) == Decimal(paid[part])
    share = Decimal(paid["principal"]) + Decimal(paid["interest"])
    assert abs(share - Decimal(paid["paid"]) * 25 / 35) < Decimal("0.02")
    rice = position["project"]
    cents = {part: f"{Decimal(paid[part]):.2f}" for part in ("principal", "interest")}
    assert last_json(own.manage("shell", "-c", NEWS)) == [
        ["commitment", f"Your commitment of 25000.00 KES to {rice} is confirmed: the "
                       "originator received the funds.", "/invest/network/commitments/"],
        ["repayment", f"Repayment received on {rice}: principal {cents['principal']}, "
                      f"interest {cents['interest']} KES", "/invest/network/commitments/"],
    ]  # fmt: skip
