"""Reads for people and organizations."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from .models import Organization, StaffInvitation, User


def organization_members(*, organization: Organization) -> QuerySet[User]:
    return organization.members.order_by("-is_active", "full_name", "email")


def organization_open_invitations(*, organization: Organization) -> QuerySet[StaffInvitation]:
    return organization.invitations.filter(
        accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def organization_invitation(*, organization: Organization, pk: int) -> StaffInvitation | None:
    return organization.invitations.filter(pk=pk).first()


def organization_member(*, organization: Organization, pk: int) -> User | None:
    return organization.members.filter(pk=pk).first()
