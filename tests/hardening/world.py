"""One node with something of everything, for the hostile-input stories.

Kijani Microfinance (Amina the admin, Juma the agent) lends to Wanjiru and Otieno and takes
money from Ines and Pablo; Amani Savings, a second originator on the same node, is run by Kwame;
Ngozi operates the node. Amani's projects book on another node is followed here. Every URL of
the node with a path parameter can be filled with a real object from this world.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.tokens import default_token_generator
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from PIL import Image

from apps.applications import services as loan_services
from apps.applications.consent import CONSENT_VERSION
from apps.applications.models import Loan, Repayment
from apps.discovery.models import Seed
from apps.funding import services as funding_services
from apps.funding.models import Commitment, Invitation
from apps.identity import credential_services
from apps.identity.models import CredentialRecord, Organization, StaffInvitation, User
from apps.identity.services import staff_invitation_create
from apps.ledger.models import Follow, Log
from apps.ledger.services import log_for_book, outbox_flush
from apps.projects.models import Project
from apps.projects.services import project_create, project_publish, project_set_image
from tests.factories import PASSWORD, OrganizationFactory, StaffFactory, UserFactory
from tests.funding.network_books import follow_projects_of
from tests.ledger.replica_sources import MemoryBook
from tests.projects.conftest import goat_terms

AMANI_PROJECT = str(uuid.uuid5(uuid.NAMESPACE_URL, "Amani boda-boda"))


@dataclass
class World:
    kijani: Organization
    amani: Organization
    amina: User
    juma: User
    kwame: User
    wanjiru: User
    otieno: User
    ines: User
    pablo: User
    ngozi: User
    goats: Project
    invite_only: Project
    amani_project: Project
    active_loan: Loan
    submitted_loan: Loan
    reported_repayment: Repayment
    commitment: Commitment
    invitation: Invitation
    credential: CredentialRecord
    staff_invitation: StaffInvitation
    staff_invitation_token: str
    follow: Follow
    peer_node_id: bytes
    amani_book_key: bytes
    seed: Seed
    sessions: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def personas(self) -> dict[str, User | None]:
        return {
            "anonymous": None,
            "wanjiru": self.wanjiru,
            "ines": self.ines,
            "otieno": self.otieno,
            "pablo": self.pablo,
            "juma": self.juma,
            "amina": self.amina,
            "kwame": self.kwame,
            "ngozi": self.ngozi,
        }


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), "green").save(out, "PNG")
    return out.getvalue()


def _credentials(amina: User, borrower: User) -> None:
    for kind, claims in (
        ("age", {"birthDate": "1990-02-03"}),
        ("citizenship", {"citizenship": "KE"}),
    ):
        credential_services.credential_issue(
            issuer=amina, holder=borrower, credential_type=kind, claims=claims
        )


def _apply(borrower: User, project: Project, amount: str) -> Loan:
    challenge = loan_services.application_challenge(borrower=borrower, project=project)
    envelope = credential_services.presentation_build_custodial(
        holder=borrower,
        nonce=challenge.nonce,
        credential_ids=[
            r.pk for r in borrower.credentials.all() if r.credential_type in challenge.request
        ],
        disclose={},
    )
    return loan_services.application_submit(
        borrower=borrower,
        project=project,
        amount=amount,
        duration=12,
        purpose="Two in-calf goats and a shed.",
        consent_version=CONSENT_VERSION,
        presentation=envelope,
    )


def _amani_projects_followed() -> tuple[Follow, bytes, bytes]:
    """Another node's projects book, heard of through gossip and followed."""
    book = MemoryBook()
    value = {
        "project": AMANI_PROJECT,
        "version": 1,
        "status": "published",
        "terms": {"title": "Amani boda-boda", "amount": "80000.00", "currency": "KES"},
        "eligibility": None,
    }
    entry = {"type": "growr/project", "v": 1, "key": f"project:{AMANI_PROJECT}", "value": value}
    book.append([json.dumps(entry).encode()])
    follow, node_id = follow_projects_of("Amani Remote", book)
    return follow, node_id, book.key


def build_world() -> World:
    kijani = OrganizationFactory(name="Kijani Microfinance", slug="kijani")
    amani = OrganizationFactory(name="Amani Savings", slug="amani")
    amina = StaffFactory(
        email="amina@kijani.example",
        full_name="Amina Wekesa",
        role="originator_admin",
        organization=kijani,
    )
    juma = StaffFactory(
        email="juma@kijani.example",
        full_name="Juma Otieno",
        role="originator_agent",
        organization=kijani,
    )
    kwame = StaffFactory(
        email="kwame@amani.example",
        full_name="Kwame Mensah",
        role="originator_admin",
        organization=amani,
    )
    wanjiru = UserFactory(email="wanjiru@example.org", full_name="Wanjiru Kamau", role="borrower")
    otieno = UserFactory(email="otieno@example.org", full_name="Otieno Ouma", role="borrower")
    ines = UserFactory(email="ines@example.org", full_name="Ines Duarte", role="investor")
    pablo = UserFactory(email="pablo@example.org", full_name="Pablo Ruiz", role="investor")
    ngozi = User.objects.create_superuser("ngozi@node.example", PASSWORD, full_name="Ngozi Eze")

    plain = goat_terms(grace_periods=0, fee_percent=Decimal(0))
    goats = project_create(actor=juma, terms=plain)
    goats = project_publish(
        actor=amina, project=project_set_image(actor=juma, project=goats, data=_png())
    )
    invite_only = project_publish(
        actor=amina,
        project=project_create(
            actor=juma, terms=goat_terms(name="Goats for invited funders", invite_only=True)
        ),
    )
    amani_project = project_publish(
        actor=kwame,
        project=project_create(actor=kwame, terms=goat_terms(name="Amani bicycles")),
    )

    _credentials(amina, wanjiru)
    _credentials(amina, otieno)
    credential = wanjiru.credentials.order_by("pk").first()

    active_loan = _apply(wanjiru, goats, "12000")
    loan_services.application_approve(actor=juma, loan=active_loan)
    loan_services.agreement_sign(borrower=wanjiru, loan=active_loan, password=PASSWORD)
    active_loan = loan_services.loan_disburse(
        actor=juma, loan=active_loan, rail="mobile_money", reference="MPESA-1"
    )
    reported = loan_services.repayment_report(
        borrower=wanjiru,
        loan=active_loan,
        amount="1000",
        reference="MPESA-R1",
        rail="mobile_money",
        paid_on=timezone.localdate(),
    )
    submitted_loan = _apply(otieno, goats, "20000")

    commitment = funding_services.commitment_create(
        investor=ines, project=goats, amount="5000", request_id="ines-goats"
    )
    invitation = funding_services.invitation_request(
        investor=ines, project=invite_only, note="I fund dairy projects."
    )
    invitation = funding_services.invitation_invite(actor=amina, invitation=invitation)
    staff_invitation, token = staff_invitation_create(
        invited_by=amina, email="baraka@kijani.example", role="originator_agent"
    )
    for book in ("projects", "loans", "funding", "payments", "credential_status"):
        log_for_book(book=book)
        outbox_flush(book=book)
    follow, peer_node_id, amani_book_key = _amani_projects_followed()
    seed = Seed.objects.create(host="seed.example", port=7946)
    return World(
        kijani=kijani,
        amani=amani,
        amina=amina,
        juma=juma,
        kwame=kwame,
        wanjiru=wanjiru,
        otieno=otieno,
        ines=ines,
        pablo=pablo,
        ngozi=ngozi,
        goats=goats,
        invite_only=invite_only,
        amani_project=amani_project,
        active_loan=active_loan,
        submitted_loan=submitted_loan,
        reported_repayment=reported,
        commitment=commitment,
        invitation=invitation,
        credential=credential,
        staff_invitation=staff_invitation,
        staff_invitation_token=token,
        follow=follow,
        peer_node_id=peer_node_id,
        amani_book_key=amani_book_key,
        seed=seed,
    )


def password_reset_path(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return f"/accounts/password/reset/{uid}/{default_token_generator.make_token(user)}/"


def own_book_key(book: str) -> str:
    return bytes(Log.objects.get(book=book, writer=True).key).hex()
