"""Demo data with known logins, by profile: `kijani` (an originator with staff, two borrowers and
two investors, a loan and its funders), `sahel` (a second originator, for a network of nodes) and
`investor` (an investor running her own node)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from apps.applications import services as loan_services
from apps.applications.consent import CONSENT_VERSION
from apps.applications.models import Loan
from apps.funding import services as funding_services
from apps.identity.credential_services import credential_issue, presentation_build_custodial
from apps.identity.models import Organization, Role, User
from apps.identity.services import (
    organization_create,
    staff_member_create,
    user_self_register,
)
from apps.projects.models import Project
from apps.projects.services import project_create, project_publish

DEMO_PASSWORD = "growr-demo-2026"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    portal: str
    created: bool


PORTALS = {
    Role.NODE_OPERATOR: "/admin/",
    Role.ORIGINATOR_ADMIN: "/staff/",
    Role.ORIGINATOR_AGENT: "/staff/",
    Role.BORROWER: "/borrow/",
    Role.INVESTOR: "/invest/",
}


@dataclass(frozen=True)
class DemoProfile:
    organization: str
    """The originator the profile's staff work for; empty on an investor's node."""
    people: tuple[tuple[str, str, str], ...]
    """(e-mail, full name, role); an originator's admin comes before its agents."""
    credentials: dict = field(default_factory=dict)
    """Credentials the organization's admin issues to its borrowers: e-mail -> [(type, claims)]."""
    projects: tuple[dict, ...] = ()
    """Terms of the projects the admin publishes (dates are set from today)."""

    def email_of(self, role: str) -> str | None:
        return next((email for email, _, r in self.people if r == role), None)


KIJANI_CREDENTIALS = {
    "wanjiru@demo.growr.test": [
        ("age", {"birthDate": "1991-04-17"}),
        ("monthly_income", {"monthlyIncome": {"amount": "38000.00", "currency": "KES"}}),
        (
            "kyc",
            {
                "given_name": "Wanjiru",
                "family_name": "Borrower",
                "birthdate": "1991-04-17",
                "nationality": "KE",
                "address": "Plot 7, Njoro Road, Nakuru",
                "id_number": "29384756",
            },
        ),
    ],
    "otieno@demo.growr.test": [
        ("age", {"birthDate": "1984-11-02"}),
        ("citizenship", {"citizenship": "KE"}),
        ("land_size", {"landSizeHectares": "1.75"}),
        (
            "cooperative_membership",
            {"cooperative": "Kisumu Rice Growers", "memberSince": "2016-03-01"},
        ),
    ],
}


KIJANI_PROJECTS = (
    {
        "currency": "KES",
        "name": "Dairy goats for Nakuru smallholders",
        "description": "Two in-calf goats per family, repaid monthly from milk sales.",
        "target_amount": Decimal("600000.00"),
        "min_amount": Decimal("5000.00"),
        "max_amount": Decimal("40000.00"),
        "min_duration": 6,
        "max_duration": 18,
        "annual_rate": Decimal("18"),
        "interest_method": "declining_equal_installments",
        "repayment_frequency": "monthly",
        "grace_periods": 1,
        "fee_percent": Decimal("1.5"),
        "eligibility": {
            "all": [
                {"credential": "age", "claim": "birthDate", "op": "age_at_least", "value": 18},
                {
                    "credential": "monthly_income",
                    "claim": "monthlyIncome.amount",
                    "op": ">=",
                    "value": "15000.00",
                    "currency": "KES",
                },
            ]
        },
    },
    {
        "currency": "KES",
        "name": "Rice inputs for the Kisumu long rains",
        "description": "Seed and fertiliser before planting, repaid once after the harvest.",
        "target_amount": Decimal("400000.00"),
        "min_amount": Decimal("3000.00"),
        "max_amount": Decimal("25000.00"),
        "min_duration": 120,
        "max_duration": 180,
        "annual_rate": Decimal("16"),
        "interest_method": "flat",
        "repayment_frequency": "bullet",
        "eligibility": {
            "all": [
                {"credential": "cooperative_membership", "op": "present"},
                {
                    "credential": "land_size",
                    "claim": "landSizeHectares",
                    "op": ">=",
                    "value": "0.5",
                },
            ]
        },
    },
)


SAHEL_PROJECTS = (
    {
        "currency": "XOF",
        "name": "Solar irrigation pumps for Thiès market gardens",
        "description": "A solar pump and drip lines per garden, repaid from vegetable sales.",
        "target_amount": Decimal("12000000"),
        "min_amount": Decimal("150000"),
        "max_amount": Decimal("900000"),
        "min_duration": 6,
        "max_duration": 12,
        "annual_rate": Decimal("20"),
        "interest_method": "declining_equal_installments",
        "repayment_frequency": "monthly",
        "eligibility": {
            "all": [
                {"credential": "age", "claim": "birthDate", "op": "age_at_least", "value": 18},
                {"credential": "cooperative_membership", "op": "present"},
            ]
        },
    },
)

PROFILES = {
    "kijani": DemoProfile(
        organization="Kijani Microfinance",
        people=(
            ("operator@demo.growr.test", "Ngozi Operator", Role.NODE_OPERATOR),
            ("admin@kijani.demo.growr.test", "Amina Admin", Role.ORIGINATOR_ADMIN),
            ("agent@kijani.demo.growr.test", "Juma Agent", Role.ORIGINATOR_AGENT),
            ("wanjiru@demo.growr.test", "Wanjiru Borrower", Role.BORROWER),
            ("otieno@demo.growr.test", "Otieno Borrower", Role.BORROWER),
            ("ines@demo.growr.test", "Ines Investor", Role.INVESTOR),
            ("pablo@demo.growr.test", "Pablo Investor", Role.INVESTOR),
        ),
        credentials=KIJANI_CREDENTIALS,
        projects=KIJANI_PROJECTS,
    ),
    "sahel": DemoProfile(
        organization="Sahel Growers Credit",
        people=(
            ("operator@sahel.demo.growr.test", "Moussa Operator", Role.NODE_OPERATOR),
            ("admin@sahel.demo.growr.test", "Awa Admin", Role.ORIGINATOR_ADMIN),
            ("agent@sahel.demo.growr.test", "Ibrahima Agent", Role.ORIGINATOR_AGENT),
            ("aissatou@sahel.demo.growr.test", "Aissatou Borrower", Role.BORROWER),
        ),
        credentials={
            "aissatou@sahel.demo.growr.test": [
                ("age", {"birthDate": "1988-06-09"}),
                (
                    "cooperative_membership",
                    {"cooperative": "Thiès Market Gardeners", "memberSince": "2019-01-15"},
                ),
            ],
        },
        projects=SAHEL_PROJECTS,
    ),
    "investor": DemoProfile(
        organization="",
        people=(
            ("operator@own.demo.growr.test", "Kofi Operator", Role.NODE_OPERATOR),
            ("kofi@own.demo.growr.test", "Kofi Investor", Role.INVESTOR),
        ),
    ),
}


def demo_data_ensure(profile: str = "kijani") -> list[DemoLogin]:
    """Create whatever demo data of PROFILE is missing; running it again changes nothing that
    exists."""
    chosen = PROFILES[profile]
    with transaction.atomic():
        logins = [_demo_person(chosen, *person) for person in chosen.people]
        _demo_credentials(chosen)
        _demo_projects(chosen)
        if profile == "kijani":
            _demo_loans()
    return logins


def _demo_person(profile: DemoProfile, email: str, full_name: str, role: str) -> DemoLogin:
    created = not User.objects.filter(email=email).exists()
    if created and role == Role.NODE_OPERATOR:
        User.objects.create_superuser(email, DEMO_PASSWORD, full_name=full_name)
    elif created and role in (Role.ORIGINATOR_ADMIN, Role.ORIGINATOR_AGENT):
        organization = Organization.objects.filter(name=profile.organization).first()
        if organization is None:  # the first of its staff founds it, as its admin
            organization_create(
                name=profile.organization,
                admin_email=email,
                admin_full_name=full_name,
                admin_password=DEMO_PASSWORD,
            )
        else:
            staff_member_create(
                organization=organization,
                email=email,
                full_name=full_name,
                password=DEMO_PASSWORD,
                role=role,
            )
    elif created:
        user_self_register(email=email, full_name=full_name, password=DEMO_PASSWORD, role=role)
    return DemoLogin(email=email, role=Role(role).label, portal=PORTALS[role], created=created)


def _demo_credentials(profile: DemoProfile) -> None:
    """The demo borrowers' credit records, issued by the organization's admin once."""
    issuer = User.objects.filter(email=profile.email_of(Role.ORIGINATOR_ADMIN)).first()
    for email, credentials in profile.credentials.items():
        holder = User.objects.filter(email=email).first()
        if issuer is None or holder is None or holder.credentials.exists():
            continue
        for credential_type, claims in credentials:
            credential_issue(
                issuer=issuer, holder=holder, credential_type=credential_type, claims=claims
            )


def _demo_projects(profile: DemoProfile) -> None:
    """The organization's open projects, published once."""
    admin = User.objects.filter(email=profile.email_of(Role.ORIGINATOR_ADMIN)).first()
    if admin is None or Project.objects.filter(organization=admin.organization).exists():
        return
    today = timezone.localdate()
    common = {
        "starts_on": today,
        "ends_on": today + timedelta(days=120),
        "min_ticket": Decimal("1000"),
        "first_loss_percent": Decimal("10"),
    }
    for terms in profile.projects:
        project = project_create(actor=admin, terms={**common, **terms})
        project_publish(actor=admin, project=project)


def _demo_loans() -> None:
    """Otieno's rice loan, applied for with his credentials, approved by the agent, signed,
    disbursed and partly repaid, the repayment shared by the project's funders; Wanjiru has
    none, so a visitor can apply as her."""
    agent = User.objects.filter(email="agent@kijani.demo.growr.test").first()
    otieno = User.objects.filter(email="otieno@demo.growr.test").first()
    rice = Project.objects.filter(name__startswith="Rice inputs").first()
    if agent is None or otieno is None or rice is None or Loan.objects.exists():
        return
    challenge = loan_services.application_challenge(borrower=otieno, project=rice)
    envelope = presentation_build_custodial(
        holder=otieno,
        nonce=challenge.nonce,
        credential_ids=list(
            otieno.credentials.filter(credential_type__in=challenge.request).values_list(
                "pk", flat=True
            )
        ),
        disclose={},
    )
    loan = loan_services.application_submit(
        borrower=otieno,
        project=rice,
        amount="18000",
        duration=150,
        purpose="Certified seed and fertiliser for two acres of rice.",
        consent_version=CONSENT_VERSION,
        presentation=envelope,
    )
    loan_services.application_approve(actor=agent, loan=loan)
    loan_services.agreement_sign(borrower=otieno, loan=loan, password=DEMO_PASSWORD)
    loan_services.loan_disburse(actor=agent, loan=loan, rail="mobile_money", reference="DEMO-D1")
    _demo_funding(agent, rice)
    loan_services.repayment_record(
        actor=agent,
        loan=loan,
        amount="2500",
        reference="DEMO-R1",
        rail="mobile_money",
        paid_on=timezone.localdate(),
    )


def _demo_funding(agent: User, rice: Project) -> None:
    """Ines funded the rice project (confirmed by the agent); Pablo committed to the dairy goat
    project and his funds are still to confirm."""
    ines = User.objects.get(email="ines@demo.growr.test")
    pablo = User.objects.get(email="pablo@demo.growr.test")
    goats = Project.objects.get(name__startswith="Dairy goats")
    funded = funding_services.commitment_create(
        investor=ines, project=rice, amount="10000", request_id="demo-ines-rice"
    )
    funding_services.commitment_confirm(actor=agent, commitment=funded, reference="DEMO-F1")
    funding_services.commitment_create(
        investor=pablo, project=goats, amount="5000", request_id="demo-pablo-goats"
    )
