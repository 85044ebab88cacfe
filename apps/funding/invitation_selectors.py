"""Reads of invitations to invite-only projects: an investor's, an organization's, the one an
investor holds for a project, and the KYC credential shown with a request."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.identity.credential_selectors import CreditRecordEntry, credit_record
from apps.identity.models import Organization, User
from apps.projects.models import Project

from .models import (
    INVITABLE,
    OPEN_INVITATION,
    InvestmentAgreement,
    Invitation,
    InvitationEvent,
)

_LISTED = ("project", "project__organization", "investor", "invited_by")


def _invitations() -> QuerySet[Invitation]:
    return Invitation.objects.select_related(*_LISTED).defer(
        "project__image", "project__description", "project__eligibility"
    )


def investor_invitations(*, investor: User) -> QuerySet[Invitation]:
    """INVESTOR's invitations, newest first."""
    return _invitations().filter(investor=investor)


def investor_invitation(*, investor: User, pk: int) -> Invitation | None:
    return _invitations().filter(investor=investor, pk=pk).first()


def project_invitation(*, project: Project, investor: User) -> Invitation | None:
    """INVESTOR's open invitation to PROJECT, else their newest closed one, else None."""
    invitations = Invitation.objects.filter(project=project, investor=investor)
    return (
        invitations.filter(status__in=OPEN_INVITATION).first()
        or invitations.order_by("-created_at", "-id").first()
    )


def organization_invitations(
    *, organization: Organization, status: str = "", project_id: str = ""
) -> QuerySet[Invitation]:
    """The invitations to ORGANIZATION's projects, newest first, optionally of one status and
    one project."""
    invitations = _invitations().filter(project__organization=organization)
    if status:
        invitations = invitations.filter(status=status)
    if project_id:
        invitations = invitations.filter(project_id=project_id)
    return invitations


def organization_invitation(*, organization: Organization, pk: int) -> Invitation | None:
    return _invitations().filter(project__organization=organization, pk=pk).first()


def invitable_projects(*, organization: Organization) -> QuerySet[Project]:
    """ORGANIZATION's invite-only projects that take new investors."""
    return (
        Project.objects.filter(organization=organization, invite_only=True, status__in=INVITABLE)
        .defer("image", "description", "eligibility")
        .order_by("name")
    )


def invitation_agreement(*, invitation: Invitation) -> InvestmentAgreement | None:
    return InvestmentAgreement.objects.filter(invitation=invitation).first()


def invitation_events(*, invitation: Invitation) -> QuerySet[InvitationEvent]:
    return invitation.events.select_related("actor").order_by("at", "id")


def shared_kyc(*, invitation: Invitation) -> CreditRecordEntry | None:
    """The KYC credential the investor showed with the request, with its state today (it may
    have expired or been revoked since)."""
    if invitation.kyc_credential_id is None:
        return None
    return next(
        (
            entry
            for entry in credit_record(holder=invitation.investor)
            if entry.record.pk == invitation.kyc_credential_id
        ),
        None,
    )


def usable_kyc(*, investor: User) -> list[CreditRecordEntry]:
    """INVESTOR's KYC credentials valid today, which a request may show."""
    return [
        entry
        for entry in credit_record(holder=investor)
        if entry.usable and entry.record.credential_type == "kyc"
    ]
