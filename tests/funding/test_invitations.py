"""Invitations to an invite-only project as stories: Ines asks Kijani for an invitation to its
members-only goat project, Juma invites her, and she signs the investment agreement (with her
password, or with her own key in self-custody) before she commits; Pablo, not invited, is
refused with the reason; a refused step changes nothing; another organization's staff cannot
invite; the signed agreement verifies from its file alone, on /agreements/verify/ too, and a
tampered one does not."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from apps.applications.agreement import (
    INVESTMENT_FORMAT,
    InvalidAgreement,
    agreement_hash,
    check_signature,
    sign_agreement,
    verify_signed_agreement,
)
from apps.funding import services
from apps.funding.models import (
    Commitment,
    InvestmentAgreement,
    Invitation,
    InvitationEvent,
    InvitationStatus,
)
from apps.identity import credential_services
from apps.identity.models import Role, Wallet, WalletEvent
from apps.identity.ssi.didkey import Ed25519Key
from apps.identity.wallet_services import wallet_of_user
from apps.projects.models import ProjectStatus
from apps.projects.services import (
    Amendment,
    project_amend,
    project_close,
    project_create,
    project_publish,
)
from tests.factories import PASSWORD, OrganizationFactory, StaffFactory
from tests.identity.conftest import KYC_CLAIMS
from tests.projects.conftest import goat_terms

D = Decimal
INES_KYC = {**KYC_CLAIMS, "given_name": "Ines", "family_name": "Duarte", "nationality": "PT"}


@pytest.fixture
def club(juma, amina):
    """Kijani's members-only goat project: invite-only, a ticket of 1,000 to 100,000 KES, 10%
    first-loss cover."""
    terms = goat_terms(name="Goats for the investor club", invite_only=True, max_ticket=D(100000))
    return project_publish(actor=amina, project=project_create(actor=juma, terms=terms))


@pytest.fixture
def invited(club, ines, juma):
    """Ines asked and Juma invited her: the agreement waits for her signature."""
    invitation = services.invitation_request(investor=ines, project=club, note="Club member")
    return services.invitation_invite(actor=juma, invitation=invitation)


def snapshot(invitation: Invitation) -> tuple:
    """What a refused step must leave as it was."""
    invitation = Invitation.objects.get(pk=invitation.pk)
    agreement = InvestmentAgreement.objects.filter(invitation=invitation).first()
    return (
        invitation.status,
        invitation.updated_at,
        invitation.closed_at,
        InvitationEvent.objects.filter(invitation=invitation).count(),
        agreement and (agreement.hash, agreement.investor_signature),
        WalletEvent.objects.filter(kind=WalletEvent.Kind.AGREEMENT_SIGNED).count(),
        Commitment.objects.count(),
    )


# --- the story -------------------------------------------------------------------------------


def test_ines_asks_juma_invites_she_signs_and_commits(
    club, ines, juma, kijani, django_capture_on_commit_callbacks
):
    invitation = services.invitation_request(investor=ines, project=club, note="Club member")
    assert invitation.status == InvitationStatus.REQUESTED and invitation.requested_at
    assert not InvestmentAgreement.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_invite(actor=juma, invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.INVITED
    assert invitation.invited_by == juma and invitation.invited_at
    assert "invites you to fund Goats for the investor club" in mail.outbox[0].subject

    agreement = invitation.agreement
    document = agreement.document
    org_did = Wallet.objects.get(organization=kijani).did
    ines_did = Wallet.objects.get(user=ines).did
    assert document["format"] == INVESTMENT_FORMAT
    assert document["parties"] == {
        "originator": {"name": "Kijani Microfinance", "did": org_did},
        "investor": {"name": "Ines Duarte", "did": ines_did},
    }
    assert document["project"] == {
        "id": str(club.pk),
        "name": "Goats for the investor club",
        "version": club.version,
    }
    assert document["terms"] == {
        "currency": "KES",
        "target_amount": "500000.00",
        "min_ticket": "1000.00",
        "max_ticket": "100000.00",
        "first_loss_percent": "10",
        "annual_rate_percent": "18",
        "interest_method": "declining_equal_installments",
        "repayment_frequency": "monthly",
        "distributions": "pro_rata_largest_remainder",
        "losses": "first_loss_then_pro_rata",
    }
    assert agreement.hash == agreement_hash(document)
    assert agreement.originator_signed_by == juma
    half = verify_signed_agreement(agreement.signed_file())
    assert [(c.role, c.valid, c.reason) for c in half.signatures] == [
        ("originator", True, ""),
        ("investor", False, "not signed"),
    ]
    assert not half.fully_signed

    with pytest.raises(ValidationError) as wrong:
        services.invitation_accept(investor=ines, invitation=invitation, password="wrong")
    assert wrong.value.message_dict == {"password": ["Your password, to sign, is not right."]}
    services.invitation_accept(investor=ines, invitation=invitation, password=PASSWORD)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.CONFIRMED and invitation.confirmed_at
    assert WalletEvent.objects.filter(
        wallet__user=ines, kind=WalletEvent.Kind.AGREEMENT_SIGNED
    ).exists()
    verified = verify_signed_agreement(InvestmentAgreement.objects.get().signed_file())
    assert verified.fully_signed and verified.format == INVESTMENT_FORMAT

    commitment = services.commitment_create(
        investor=ines, project=club, amount="50000", request_id="ines-first-50k"
    )
    assert commitment.amount == D(50000)
    actions = list(
        InvitationEvent.objects.order_by("at", "id").values_list("action", "actor", "to_status")
    )
    assert actions == [
        ("requested", ines.pk, "requested"),
        ("invited", juma.pk, "invited"),
        ("agreement_signed", ines.pk, "confirmed"),
    ]


def test_pablo_without_an_invitation_is_refused_with_the_reason(club, invited, pablo, ines):
    for investor in (pablo, ines):  # Ines is invited but has not signed yet
        with pytest.raises(ValidationError) as refused:
            services.commitment_create(
                investor=investor, project=club, amount="5000", request_id="try-without-1"
            )
        assert refused.value.message_dict["project"] == [services.INVITATION_NEEDED]
    assert not Commitment.objects.exists()


def test_an_invitation_to_another_project_does_not_count(club, invited, ines, juma, amina):
    other = project_publish(
        actor=amina,
        project=project_create(actor=juma, terms=goat_terms(name="Second club", invite_only=True)),
    )
    services.invitation_accept(investor=ines, invitation=invited, password=PASSWORD)
    with pytest.raises(ValidationError):
        services.commitment_create(
            investor=ines, project=other, amount="5000", request_id="other-project-1"
        )


def test_a_self_custody_investor_signs_with_her_own_key(club, ines, juma):
    key = Ed25519Key.generate()  # she moved to self-custody before asking
    services.invitation_request(investor=ines, project=club)
    wallet_of_user(user=ines)
    Wallet.objects.filter(user=ines).update(did=key.did, custody="self", sealed_key=None)
    ines = type(ines).objects.get(pk=ines.pk)
    invitation = services.invitation_invite(actor=juma, invitation=Invitation.objects.get())
    agreement = invitation.agreement
    assert agreement.investor_did == key.did

    def sign(key, role):
        return sign_agreement(
            key=key, document_hash=agreement.hash, role=role, document_format=INVESTMENT_FORMAT
        )

    before = snapshot(invitation)
    for signature in (
        sign(Ed25519Key.generate(), "investor"),  # another key
        sign(key, "originator"),  # her key, the originator's role
        sign_agreement(key=key, document_hash=agreement.hash, role="borrower"),  # a loan's role
        "not-a-jws",
    ):
        with pytest.raises(ValidationError) as refused:
            services.invitation_accept(investor=ines, invitation=invitation, signature=signature)
        assert "The signature is refused" in refused.value.message_dict["signature"][0]
        assert snapshot(invitation) == before
    # The node cannot sign for her: her password is no signature.
    with pytest.raises(ValidationError):
        services.invitation_accept(investor=ines, invitation=invitation, password=PASSWORD)

    services.invitation_accept(
        investor=ines, invitation=invitation, signature=sign(key, "investor")
    )
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.CONFIRMED
    assert verify_signed_agreement(invitation.agreement.signed_file()).fully_signed
    assert not WalletEvent.objects.filter(kind=WalletEvent.Kind.AGREEMENT_SIGNED).exists()


def test_staff_invite_an_investor_by_email_and_answer_a_request_the_same_way(
    club, ines, pablo, amina
):
    invitation = services.invitation_invite_by_email(
        actor=amina, project=club, email="  PABLO@example.org "
    )
    assert (invitation.investor, invitation.status) == (pablo, InvitationStatus.INVITED)
    assert invitation.requested_at is None and invitation.agreement.originator_signed_by == amina

    request = services.invitation_request(investor=ines, project=club)
    answered = services.invitation_invite_by_email(actor=amina, project=club, email=ines.email)
    assert answered.pk == request.pk and answered.status == InvitationStatus.INVITED

    for email, message in (
        ("nobody@example.org", "No investor account with this e-mail address."),
        ("amina@kijani.example", "No investor account with this e-mail address."),
        ("", "No investor account with this e-mail address."),
        ("ines@example.org", "This investor is invited already."),
    ):
        with pytest.raises(ValidationError) as refused:
            services.invitation_invite_by_email(actor=amina, project=club, email=email)
        assert refused.value.message_dict == {"email": [message]}
    assert Invitation.objects.count() == 2


# --- refusals change nothing -----------------------------------------------------------------


def test_another_organizations_staff_cannot_invite_or_decline(club, ines, invited):
    umoja = StaffFactory(role=Role.ORIGINATOR_ADMIN, organization=OrganizationFactory(name="Umoja"))
    request = services.invitation_withdraw(investor=ines, invitation=invited)
    request = services.invitation_request(investor=ines, project=club)
    before = snapshot(request)
    with pytest.raises(PermissionDenied):
        services.invitation_invite(actor=umoja, invitation=request)
    with pytest.raises(PermissionDenied):
        services.invitation_invite_by_email(actor=umoja, project=club, email=ines.email)
    with pytest.raises(PermissionDenied):
        services.invitation_decline(actor=umoja, invitation=request, reason="not ours")
    assert snapshot(request) == before


def test_only_investors_ask_and_only_for_their_own_invitation(club, invited, wanjiru, juma, pablo):
    before = snapshot(invited)
    for person in (wanjiru, juma):
        with pytest.raises(PermissionDenied):
            services.invitation_request(investor=person, project=club)
    with pytest.raises(PermissionDenied):
        services.invitation_accept(investor=pablo, invitation=invited, password=PASSWORD)
    with pytest.raises(PermissionDenied):
        services.invitation_withdraw(investor=pablo, invitation=invited)
    with pytest.raises(PermissionDenied):
        services.invitation_invite(actor=pablo, invitation=invited)
    assert snapshot(invited) == before
    assert Invitation.objects.count() == 1


def test_every_refused_step_changes_nothing(club, invited, ines, juma):
    before = snapshot(invited)
    refusals = [
        lambda: services.invitation_request(investor=ines, project=club),  # open already
        lambda: services.invitation_invite(actor=juma, invitation=invited),  # invited already
        lambda: services.invitation_decline(actor=juma, invitation=invited, reason="x" * 301),
        lambda: services.invitation_withdraw(investor=ines, invitation=invited, reason="x" * 301),
    ]
    for refused in refusals:
        with pytest.raises(ValidationError):
            refused()
        assert snapshot(invited) == before

    services.invitation_accept(investor=ines, invitation=invited, password=PASSWORD)
    signed = snapshot(invited)
    for refused in [
        lambda: services.invitation_accept(investor=ines, invitation=invited, password=PASSWORD),
        lambda: services.invitation_withdraw(investor=ines, invitation=invited),
        lambda: services.invitation_decline(actor=juma, invitation=invited),
        lambda: services.invitation_invite(actor=juma, invitation=invited),
    ]:
        with pytest.raises(ValidationError) as error:
            refused()
        assert "An invitation that is confirmed" in error.value.messages[0]
        assert snapshot(invited) == signed


@pytest.mark.parametrize("who", ["investor", "staff"])
def test_a_request_or_invitation_is_withdrawn_or_declined_and_may_be_asked_again(
    club, ines, juma, who, django_capture_on_commit_callbacks
):
    request = services.invitation_request(investor=ines, project=club)
    if who == "investor":
        services.invitation_withdraw(investor=ines, invitation=request, reason="Not this year")
        status = InvitationStatus.WITHDRAWN
    else:
        with django_capture_on_commit_callbacks(execute=True):
            services.invitation_decline(actor=juma, invitation=request, reason="Members only")
        status = InvitationStatus.DECLINED
        assert "declined your request for an invitation" in mail.outbox[0].subject
        assert "Members only" in mail.outbox[0].body
    request.refresh_from_db()
    assert request.status == status and request.closed_at and request.close_reason
    with pytest.raises(ValidationError):
        services.invitation_accept(investor=ines, invitation=request, password=PASSWORD)
    again = services.invitation_request(investor=ines, project=club)
    assert again.pk != request.pk and again.status == InvitationStatus.REQUESTED


def test_an_invitation_not_yet_signed_is_taken_back_or_turned_down(club, ines, juma, pablo):
    for person, close in (
        (ines, lambda i: services.invitation_withdraw(investor=ines, invitation=i)),
        (pablo, lambda i: services.invitation_decline(actor=juma, invitation=i)),
    ):
        invitation = services.invitation_invite_by_email(
            actor=juma, project=club, email=person.email
        )
        close(invitation)
        with pytest.raises(ValidationError):
            services.invitation_accept(investor=person, invitation=invitation, password=PASSWORD)
        with pytest.raises(ValidationError):
            services.commitment_create(
                investor=person, project=club, amount="5000", request_id="after-closing"
            )


def test_only_invite_only_projects_that_take_investors_have_invitations(
    goats, club, ines, amina, juma
):
    with pytest.raises(ValidationError) as open_to_all:
        services.invitation_request(investor=ines, project=goats)
    assert "no invitation is needed" in open_to_all.value.message_dict["project"][0]
    with pytest.raises(ValidationError):
        services.invitation_invite_by_email(actor=juma, project=goats, email=ines.email)
    request = services.invitation_request(investor=ines, project=club)
    project_close(actor=amina, project=club, reason="season over")
    club.refresh_from_db()
    assert club.status == ProjectStatus.CLOSED
    for refused in (
        lambda: services.invitation_request(investor=ines, project=club),
        lambda: services.invitation_invite(actor=juma, invitation=request),
    ):
        with pytest.raises(ValidationError) as closed:
            refused()
        assert closed.value.message_dict["project"] == ["This project takes no new investors."]
    assert Invitation.objects.get().status == InvitationStatus.REQUESTED


def test_a_new_did_or_new_terms_make_the_agreement_again(club, invited, ines, amina):
    """Made again for the investor to sign, and signed again for Kijani by who invited."""
    first = invited.agreement.hash
    key = Ed25519Key.generate()
    Wallet.objects.filter(user=ines).update(did=key.did, custody="self", sealed_key=None)
    ines = type(ines).objects.get(pk=ines.pk)
    with pytest.raises(ValidationError) as stale:
        services.invitation_accept(
            investor=ines,
            invitation=invited,
            signature=sign_agreement(
                key=key, document_hash=first, role="investor", document_format=INVESTMENT_FORMAT
            ),
        )
    assert "the investor's DID changed" in stale.value.message_dict["signature"][0]

    services.invitation_agreement_refresh(investor=ines, invitation=invited)
    remade = InvestmentAgreement.objects.get(invitation=invited)
    assert remade.hash != first and remade.investor_did == key.did
    assert remade.originator_signed_by == invited.invited_by  # signed again for Kijani
    assert verify_signed_agreement(remade.signed_file()).signatures[0].valid
    event = InvitationEvent.objects.get(action="agreement_remade")
    assert event.changes == {"reason": "the investor's DID changed", "hash": remade.hash}

    project_amend(actor=amina, project=club, amendment=Amendment(target_amount=D(800000)))
    with pytest.raises(ValidationError) as amended:
        services.invitation_accept(
            investor=ines,
            invitation=invited,
            signature=sign_agreement(
                key=key,
                document_hash=remade.hash,
                role="investor",
                document_format=INVESTMENT_FORMAT,
            ),
        )
    assert "the project's terms changed" in amended.value.message_dict["signature"][0]
    services.invitation_agreement_refresh(investor=ines, invitation=invited)
    latest = InvestmentAgreement.objects.get(invitation=invited)
    assert latest.document["terms"]["target_amount"] == "800000.00"
    assert latest.document["project"]["version"] == club.version + 1
    services.invitation_accept(
        investor=ines,
        invitation=invited,
        signature=sign_agreement(
            key=key, document_hash=latest.hash, role="investor", document_format=INVESTMENT_FORMAT
        ),
    )
    assert Invitation.objects.get().status == InvitationStatus.CONFIRMED


# --- the KYC credential an investor may show ----------------------------------------------------


def test_staff_issue_an_investor_a_kyc_credential_only(amina, ines):
    record = credential_services.credential_issue(
        issuer=amina, holder=ines, credential_type="kyc", claims=INES_KYC
    )
    assert record.holder == ines and record.holder_did == Wallet.objects.get(user=ines).did
    with pytest.raises(ValidationError) as refused:
        credential_services.credential_issue(
            issuer=amina, holder=ines, credential_type="age", claims={"birthDate": "1990-02-03"}
        )
    assert "An investor is issued a KYC credential only" in refused.value.message_dict["holder"][0]


def test_ines_shows_her_kyc_credential_with_her_request(club, ines, pablo, amina):
    kyc = credential_services.credential_issue(
        issuer=amina, holder=ines, credential_type="kyc", claims=INES_KYC
    )
    others = credential_services.credential_issue(
        issuer=amina, holder=pablo, credential_type="kyc", claims=INES_KYC
    )
    for wrong in (others.pk, 10**9, "abc"):
        with pytest.raises(ValidationError) as refused:
            services.invitation_request(investor=ines, project=club, kyc_credential_id=wrong)
        assert "kyc_credential" in refused.value.message_dict
    assert not Invitation.objects.exists()
    credential_services.credential_revoke(actor=amina, credential=others, reason="test")
    invitation = services.invitation_request(investor=ines, project=club, kyc_credential_id=kyc.pk)
    assert invitation.kyc_credential == kyc


# --- the investment agreement file ---------------------------------------------------------------


def _signed_file(invited, ines) -> dict:
    services.invitation_accept(investor=ines, invitation=invited, password=PASSWORD)
    return InvestmentAgreement.objects.get().signed_file()


def test_the_investment_agreement_verifies_and_a_tampered_one_does_not(invited, ines, client):
    signed = _signed_file(invited, ines)
    assert set(signed["signatures"]) == {"originator", "investor"}
    assert verify_signed_agreement(signed).fully_signed

    tampered = json.loads(json.dumps(signed))
    tampered["document"]["terms"]["first_loss_percent"] = "50"
    del tampered["hash"]
    checks = verify_signed_agreement(tampered).signatures
    assert {c.reason for c in checks} == {"the signature is for another document"}

    as_loan = json.loads(json.dumps(signed))
    as_loan["signatures"]["borrower"] = as_loan["signatures"].pop("investor")
    with pytest.raises(InvalidAgreement, match="by role: originator, investor"):
        verify_signed_agreement(as_loan)

    # A loan agreement's borrower is no investor: the same JWS checked for the wrong role fails.
    check = check_signature(
        jws=signed["signatures"]["investor"],
        document_hash=signed["hash"],
        role="borrower",
        did=signed["document"]["parties"]["investor"]["did"],
        document_format=INVESTMENT_FORMAT,
    )
    assert not check.valid and "has no borrower" in check.reason

    verify = reverse("agreements:verify")
    page = client.post(verify, {"text": json.dumps(signed)}).content.decode()
    assert 'data-fully-signed="true"' in page
    assert "Investment agreement I-" in page and "Ines Duarte" in page
    assert "the originator and the investor signed it" in page
    assert "100000.00 KES" in page and "10% of the confirmed funding" in page
    bad = client.post(verify, {"text": json.dumps(tampered)}).content.decode()
    assert 'data-fully-signed="false"' in bad and bad.count('data-valid="false"') == 2

    api = client.post(reverse("api-agreement-verify"), signed, content_type="application/json")
    assert api.status_code == 200
    assert api.json()["fully_signed"] and api.json()["format"] == INVESTMENT_FORMAT
    assert [s["role"] for s in api.json()["signatures"]] == ["originator", "investor"]


def test_roles_follow_the_format():
    key = Ed25519Key.generate()
    with pytest.raises(ValueError, match="role is one of"):
        sign_agreement(key=key, document_hash="0" * 64, role="investor")  # a loan's roles
    with pytest.raises(ValueError, match="role is one of"):
        sign_agreement(
            key=key, document_hash="0" * 64, role="borrower", document_format=INVESTMENT_FORMAT
        )
    with pytest.raises(InvalidAgreement, match="not a growr/loan-agreement or "):
        verify_signed_agreement({"document": {"format": "growr/other-agreement"}})


# --- the investor's pages ----------------------------------------------------------------------

INVITATIONS = reverse("invest:invitations")
STAFF_LIST = reverse("funding_invitations:list")
STAFF_INVITE = reverse("funding_invitations:invite")


def _invest(name: str, *args) -> str:
    return reverse(f"invest:{name}", args=args)


def _staff(name: str, invitation) -> str:
    return reverse(f"funding_invitations:{name}", args=[invitation.pk])


def test_ines_asks_on_the_project_page_and_signs_on_her_invitation_page(
    client, club, ines, juma, amina
):
    kyc = credential_services.credential_issue(
        issuer=amina, holder=ines, credential_type="kyc", claims=INES_KYC
    )
    client.force_login(ines)
    project_page = client.get(reverse("project-page", args=[club.pk])).content.decode()
    asking = _invest("invitation-request", club.pk)
    assert "Request an invitation" in project_page and asking in project_page

    form = client.get(asking)
    assert form.status_code == 200 and "KYC issued by Kijani Microfinance" in form.content.decode()
    sent = client.post(asking, {"note": "Member since 2019", "kyc_credential": str(kyc.pk)})
    invitation = Invitation.objects.get()
    assert sent.status_code == 302 and sent["Location"] == _invest("invitation", invitation.pk)
    assert (invitation.note, invitation.kyc_credential) == ("Member since 2019", kyc)
    assert client.get(asking)["Location"] == _invest("invitation", invitation.pk)  # asked already
    waiting = client.get(reverse("project-page", args=[club.pk])).content.decode()
    assert 'data-invitation="requested"' in waiting and "Request an invitation" not in waiting

    services.invitation_invite(actor=juma, invitation=invitation)
    page = client.get(_invest("invitation", invitation.pk))
    html = page.content.decode()
    agreement = InvestmentAgreement.objects.get()
    assert page.status_code == 200
    assert f"Investment agreement {invitation.reference}" in html and agreement.hash in html
    assert "Sign the investment agreement" in html and 'data-signature="originator"' in html
    assert "100000.00 KES" in html and "Goats for the investor club" in html

    refused = client.post(_invest("invitation", invitation.pk), {"password": "wrong"})
    assert refused.status_code == 200
    assert "Your password, to sign, is not right." in refused.content.decode()
    assert Invitation.objects.get().status == InvitationStatus.INVITED

    signed = client.post(_invest("invitation", invitation.pk), {"password": PASSWORD})
    assert signed.status_code == 302
    assert Invitation.objects.get().status == InvitationStatus.CONFIRMED
    after = client.get(_invest("invitation", invitation.pk)).content.decode()
    assert "you may now commit" in after and "Sign the investment agreement" not in after

    file = client.get(_invest("invitation-file", invitation.pk))
    assert file["Content-Disposition"].endswith(f'{invitation.reference}.json"')
    assert verify_signed_agreement(json.loads(file.content)).fully_signed
    pdf = client.get(_invest("invitation-pdf", invitation.pk))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    listed = client.get(INVITATIONS).content.decode()
    assert invitation.reference in listed and "you may commit to this project" in listed


def test_a_self_custody_investor_signs_in_her_browser(client, club, invited, ines):
    key = Ed25519Key.generate()
    Wallet.objects.filter(user=ines).update(did=key.did, custody="self", sealed_key=None)
    client.force_login(ines)
    page = client.get(_invest("invitation", invited.pk))  # the agreement is made for her new DID
    agreement = InvestmentAgreement.objects.get()
    assert agreement.investor_did == key.did
    to_sign = page.context["to_sign_in_browser"]
    assert to_sign["role"] == "investor" and to_sign["hash"] == agreement.hash
    assert "js/loan.js" in page.content.decode() and 'data-custody="self"' in page.content.decode()

    other = sign_agreement(
        key=Ed25519Key.generate(),
        document_hash=agreement.hash,
        role="investor",
        document_format=INVESTMENT_FORMAT,
    )
    refused = client.post(_invest("invitation", invited.pk), {"signature": other})
    assert refused.status_code == 200
    assert "The signature is refused" in refused.content.decode()
    assert Invitation.objects.get().status == InvitationStatus.INVITED
    too_long = client.post(_invest("invitation", invited.pk), {"signature": "x" * 5000})
    assert too_long.status_code == 200
    assert "The signature: Ensure this value has at most 4096" in too_long.content.decode()
    assert Invitation.objects.get().status == InvitationStatus.INVITED

    signature = sign_agreement(
        key=key, document_hash=agreement.hash, role="investor", document_format=INVESTMENT_FORMAT
    )
    assert (
        client.post(_invest("invitation", invited.pk), {"signature": signature}).status_code == 302
    )
    assert Invitation.objects.get().status == InvitationStatus.CONFIRMED


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"note": "x" * 1001}, "note", "at most 1000 characters"),
        ({"kyc_credential": "999999"}, "kyc_credential", "Select a valid choice"),
    ],
)
def test_a_bad_request_is_a_form_error_and_asks_nothing(
    client, club, ines, amina, data, field, message
):
    credential_services.credential_issue(
        issuer=amina, holder=ines, credential_type="kyc", claims=INES_KYC
    )
    client.force_login(ines)
    response = client.post(_invest("invitation-request", club.pk), data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not Invitation.objects.exists()


def test_asking_for_a_project_open_to_all_or_unknown(client, goats, ines):
    client.force_login(ines)
    response = client.post(_invest("invitation-request", goats.pk), {"note": "hello"})
    assert response.status_code == 200
    assert "no invitation is needed" in response.content.decode()
    assert not Invitation.objects.exists()
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.get(_invest("invitation-request", unknown)).status_code == 404
    assert (
        'id="invitation"'
        not in client.get(reverse("project-page", args=[goats.pk])).content.decode()
    )


def test_ines_withdraws_and_a_refused_step_says_why(client, club, ines):
    invitation = services.invitation_request(investor=ines, project=club)
    client.force_login(ines)
    before = snapshot(invitation)
    # Nothing to sign yet.
    sign = client.post(_invest("invitation", invitation.pk), {"password": PASSWORD}, follow=True)
    assert "not waiting for your signature" in sign.content.decode()
    too_long = client.post(
        _invest("invitation-withdraw", invitation.pk), {"reason": "x" * 301}, follow=True
    )
    assert "at most 300 characters" in too_long.content.decode()
    assert snapshot(invitation) == before

    done = client.post(_invest("invitation-withdraw", invitation.pk), {"reason": "Later"})
    assert done.status_code == 302
    assert Invitation.objects.get().status == InvitationStatus.WITHDRAWN
    again = client.post(_invest("invitation-withdraw", invitation.pk), {}, follow=True)
    assert "An invitation that is withdrawn by the investor cannot" in again.content.decode()
    project_page = client.get(reverse("project-page", args=[club.pk])).content.decode()
    assert "Request an invitation" in project_page  # she may ask again


def test_other_investors_get_404_and_other_people_403(client, club, invited, pablo, juma, wanjiru):
    client.force_login(pablo)
    for name in ("invitation", "invitation-file", "invitation-pdf"):
        assert client.get(_invest(name, invited.pk)).status_code == 404
    for name in ("invitation", "invitation-withdraw"):
        assert client.post(_invest(name, invited.pk), {"password": PASSWORD}).status_code == 404
    assert client.get(_invest("invitation", 10**9)).status_code == 404
    assert client.get(INVITATIONS).context["page"].paginator.count == 0
    for person in (juma, wanjiru):
        client.force_login(person)
        for url in (
            INVITATIONS,
            _invest("invitation", invited.pk),
            _invest("invitation-request", club.pk),
        ):
            assert client.get(url).status_code == 403
    client.logout()
    answer = client.get(_invest("invitation", invited.pk))
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
    anyone = client.get(reverse("project-page", args=[club.pk])).content.decode()
    assert "as an investor to request an invitation" in anyone
    assert Invitation.objects.get().status == InvitationStatus.INVITED


# --- the staff's pages -------------------------------------------------------------------------


def test_juma_answers_a_request_seeing_the_kyc_ines_showed(client, club, ines, juma, amina):
    kyc = credential_services.credential_issue(
        issuer=amina, holder=ines, credential_type="kyc", claims=INES_KYC
    )
    invitation = services.invitation_request(
        investor=ines, project=club, note="Member since 2019", kyc_credential_id=kyc.pk
    )
    client.force_login(juma)
    listed = client.get(STAFF_LIST)
    assert listed.status_code == 200 and listed.context["requests"] == [invitation]
    detail = client.get(_staff("detail", invitation)).content.decode()
    assert 'data-kyc="valid"' in detail and "Duarte" in detail and "Member since 2019" in detail
    assert "Invite and sign the agreement" in detail

    assert client.post(_staff("invite-requested", invitation)).status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.INVITED and invitation.invited_by == juma
    detail = client.get(_staff("detail", invitation)).content.decode()
    assert 'data-signature="originator" data-valid="true"' in detail
    assert "Invited; agreement signed for the organization" in detail  # the audit trail
    file = client.get(_staff("agreement-file", invitation))
    assert json.loads(file.content)["hash"] == invitation.agreement.hash

    before = snapshot(invitation)
    again = client.post(_staff("invite-requested", invitation), follow=True)
    assert "An invitation that is invited" in again.content.decode()
    assert snapshot(invitation) == before
    credential_services.credential_revoke(actor=amina, credential=kyc, reason="documents forged")
    assert 'data-kyc="revoked"' in client.get(_staff("detail", invitation)).content.decode()


def test_amina_invites_by_email_with_form_errors_for_bad_input(client, club, goats, pablo, amina):
    client.force_login(amina)
    assert [p.pk for p in client.get(STAFF_LIST).context["projects"]] == [club.pk]
    for data, field, message in (
        ({"project": str(club.pk), "email": "not-an-address"}, "email", "valid email address"),
        ({"project": str(club.pk), "email": "nobody@example.org"}, "email", "No investor account"),
        ({"project": str(goats.pk), "email": pablo.email}, "project", "Select a valid choice"),
        ({"email": pablo.email}, "project", "This field is required."),
    ):
        response = client.post(STAFF_INVITE, data)
        assert response.status_code == 200
        assert message in " ".join(response.context["invite_form"].errors[field])
    assert not Invitation.objects.exists()

    sent = client.post(STAFF_INVITE, {"project": str(club.pk), "email": pablo.email})
    invitation = Invitation.objects.get()
    assert sent["Location"] == _staff("detail", invitation)
    assert (invitation.investor, invitation.status) == (pablo, InvitationStatus.INVITED)


def test_a_decline_with_a_bad_reason_is_a_form_error_then_declines(client, club, ines, juma):
    invitation = services.invitation_request(investor=ines, project=club)
    client.force_login(juma)
    before = snapshot(invitation)
    response = client.post(_staff("decline", invitation), {"reason": "x" * 301})
    assert response.status_code == 200
    assert "at most 300 characters" in " ".join(response.context["decline_form"].errors["reason"])
    assert snapshot(invitation) == before
    assert client.post(_staff("decline", invitation), {"reason": "Club is full"}).status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.DECLINED and invitation.closed_by == juma
    page = client.get(STAFF_LIST, {"status": "declined"})
    assert list(page.context["page"].object_list) == [invitation]
    assert client.get(STAFF_LIST, {"status": "nonsense"}).status_code == 200


def test_another_organizations_staff_get_404(client, club, invited):
    umoja = StaffFactory(role=Role.ORIGINATOR_ADMIN, organization=OrganizationFactory(name="Umoja"))
    client.force_login(umoja)
    before = snapshot(invited)
    for name in ("detail", "agreement-file"):
        assert client.get(_staff(name, invited)).status_code == 404
    for name in ("invite-requested", "decline"):
        assert client.post(_staff(name, invited), {"reason": "x"}).status_code == 404
    invite = client.post(STAFF_INVITE, {"project": str(club.pk), "email": "pablo@example.org"})
    assert "Select a valid choice" in invite.context["invite_form"].errors["project"][0]
    listed = client.get(STAFF_LIST)
    assert listed.context["requests"] == [] and listed.context["page"].paginator.count == 0
    assert snapshot(invited) == before


@pytest.mark.parametrize("persona", ["wanjiru", "ines"])
def test_borrowers_and_investors_get_403_on_staff_pages(client, invited, persona, request):
    client.force_login(request.getfixturevalue(persona))
    before = snapshot(invited)
    for url in (STAFF_LIST, _staff("detail", invited)):
        assert client.get(url).status_code == 403
    for url in (STAFF_INVITE, _staff("invite-requested", invited), _staff("decline", invited)):
        assert client.post(url, {"reason": "x"}).status_code == 403
    client.logout()
    assert "/accounts/login/" in client.get(STAFF_LIST)["Location"]
    assert snapshot(invited) == before


def test_the_lists_cost_the_same_queries_for_3_and_30_invitations(client, club, juma, amina):
    from tests.factories import UserFactory
    from tests.queries import page_queries

    def invite(count):
        for _ in range(count):
            investor = UserFactory(role=Role.INVESTOR)
            services.invitation_request(investor=investor, project=club)
        return investor

    last = invite(3)
    client.force_login(juma)
    few = page_queries(client, STAFF_LIST)
    client.force_login(last)
    few_own = page_queries(client, INVITATIONS)
    invite(27)
    client.force_login(juma)
    assert page_queries(client, STAFF_LIST) == few
    client.force_login(last)
    assert page_queries(client, INVITATIONS) == few_own


def test_staff_issue_a_kyc_credential_to_an_investor_on_the_credentials_page(client, ines, amina):
    client.force_login(amina)
    issue = reverse("staff:credential-issue")
    kyc_page = client.get(issue, {"type": "kyc"}).content.decode()
    assert "Borrower&#x27;s or investor&#x27;s e-mail" in kyc_page
    claims = {f"claim_{k}": v for k, v in INES_KYC.items()}
    done = client.post(f"{issue}?type=kyc", {"email": ines.email, **claims})
    assert done.status_code == 302
    assert ines.credentials.get().credential_type == "kyc"
    age = client.post(f"{issue}?type=age", {"email": ines.email, "claim_birthDate": "1990-02-03"})
    assert age.status_code == 200
    assert "An investor is issued a KYC credential only" in age.content.decode()
    assert ines.credentials.count() == 1
