"""Amina (admin) invites colleagues; Juma (agent) cannot; links work once and expire."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from apps.identity.models import Role, StaffInvitation, User
from apps.identity.services import staff_invitation_create, staff_invitation_open


def _invite_link(message) -> str:
    return re.search(r"http://\S+/accounts/invitations/\S+/", message.body).group(0)


def test_admin_invites_an_agent_who_joins_through_the_emailed_link(
    client, amina, django_capture_on_commit_callbacks
):
    client.force_login(amina)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("staff:team"), {"email": "baraka@kijani.example", "role": Role.ORIGINATOR_AGENT}
        )
    assert response.status_code == 302
    assert mail.outbox[0].to == ["baraka@kijani.example"]
    link = _invite_link(mail.outbox[0])
    client.logout()

    page = client.get(link)
    assert "Join Kijani Microfinance" in page.content.decode()
    joined = client.post(
        link,
        {
            "full_name": "Baraka Mwangi",
            "password1": "tea farm ledger 9",
            "password2": "tea farm ledger 9",
        },
    )

    assert joined.status_code == 302
    assert joined["Location"] == "/staff/"
    baraka = User.objects.get(email="baraka@kijani.example")
    assert (baraka.role, baraka.organization) == (Role.ORIGINATOR_AGENT, amina.organization)
    assert client.get(link).status_code == 404, "an invitation link works only once"


def test_agent_cannot_invite_staff(client, juma):
    client.force_login(juma)

    response = client.post(
        reverse("staff:team"), {"email": "friend@example.org", "role": Role.ORIGINATOR_ADMIN}
    )

    assert response.status_code == 403
    assert not StaffInvitation.objects.exists()


def test_expired_and_revoked_invitations_do_not_work(client, amina):
    expired, expired_token = staff_invitation_create(
        invited_by=amina, email="late@example.org", role=Role.ORIGINATOR_AGENT
    )
    expired.expires_at = timezone.now() - timedelta(seconds=1)
    expired.save()
    revoked, revoked_token = staff_invitation_create(
        invited_by=amina, email="gone@example.org", role=Role.ORIGINATOR_AGENT
    )
    client.force_login(amina)
    client.post(reverse("staff:invitation-revoke", args=[revoked.pk]))
    client.logout()

    for token in (expired_token, revoked_token, "made-up-token"):
        response = client.get(reverse("invitation-accept", args=[token]))
        assert response.status_code == 404
        assert "This invitation link is not valid" in response.content.decode()


def test_a_new_invitation_replaces_the_open_one(amina):
    first, first_token = staff_invitation_create(
        invited_by=amina, email="twice@example.org", role=Role.ORIGINATOR_AGENT
    )
    staff_invitation_create(invited_by=amina, email="twice@example.org", role=Role.ORIGINATOR_ADMIN)

    first.refresh_from_db()
    assert first.revoked_at is not None
    assert staff_invitation_open(token=first_token) is None


def test_an_admin_cannot_invite_into_another_organization_or_an_existing_account(amina, wanjiru):
    with pytest.raises(Exception, match="already exists"):
        staff_invitation_create(invited_by=amina, email=wanjiru.email, role=Role.ORIGINATOR_AGENT)
    with pytest.raises(PermissionDenied):
        staff_invitation_create(
            invited_by=wanjiru, email="x@example.org", role=Role.ORIGINATOR_AGENT
        )


def test_admin_suspends_an_agent_but_not_herself(client, amina, juma):
    client.force_login(amina)

    client.post(reverse("staff:member-access", args=[juma.pk]), {"active": "0"})
    juma.refresh_from_db()
    assert not juma.is_active

    response = client.post(
        reverse("staff:member-access", args=[amina.pk]), {"active": "0"}, follow=True
    )
    amina.refresh_from_db()
    assert amina.is_active
    assert "You cannot change your own access." in response.content.decode()


def test_agent_cannot_suspend_anyone(client, amina, juma):
    client.force_login(juma)

    response = client.post(reverse("staff:member-access", args=[amina.pk]), {"active": "0"})

    assert response.status_code == 403
    amina.refresh_from_db()
    assert amina.is_active


def test_admin_of_another_originator_cannot_touch_kijani_staff(client, juma):
    from tests.factories import OrganizationFactory, StaffFactory

    other_admin = StaffFactory(role=Role.ORIGINATOR_ADMIN, organization=OrganizationFactory())
    client.force_login(other_admin)

    response = client.post(reverse("staff:member-access", args=[juma.pk]), {"active": "0"})

    assert response.status_code == 404
    juma.refresh_from_db()
    assert juma.is_active
