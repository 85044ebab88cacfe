"""Writes for people and organizations: registration, staff invitations, team changes."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from .models import (
    SELF_REGISTRATION_ROLES,
    STAFF_ROLES,
    Notification,
    Organization,
    Role,
    StaffInvitation,
    User,
)
from .notifications import bell_changed, notify_user
from .wallet_services import wallet_of_organization, wallet_of_user

INVITATION_TOKEN_BYTES = 32


def _normalized_email(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


def _ensure_email_free(email: str) -> None:
    if User.objects.filter(email=email).exists():
        raise ValidationError({"email": "An account with this e-mail address already exists."})


def _create_user(
    *, email: str, full_name: str, password: str, role: str, organization=None
) -> User:
    email = _normalized_email(email)
    _ensure_email_free(email)
    candidate = User(email=email, full_name=full_name.strip(), role=role)
    validate_password(password, user=candidate)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email, password, full_name=candidate.full_name, role=role, organization=organization
            )
            # Every person has a DID from the start (custodial until they bring their own).
            wallet_of_user(user=user)
            return user
    except IntegrityError as exc:
        # Another request registered the same address between our check and our insert.
        raise ValidationError(
            {"email": "An account with this e-mail address already exists."}
        ) from exc


@transaction.atomic
def user_self_register(*, email: str, full_name: str, password: str, role: str) -> User:
    """A borrower or investor opens their own account. Staff accounts come only by invitation."""
    if role not in SELF_REGISTRATION_ROLES:
        raise PermissionDenied("Only borrowers and investors can register themselves.")
    return _create_user(email=email, full_name=full_name, password=password, role=role)


@transaction.atomic
def organization_create(
    *, name: str, admin_email: str, admin_full_name: str, admin_password: str
) -> Organization:
    """An originator joins the node with its first admin (done by the node operator)."""
    slug = slugify(name)[:80]
    if not slug:
        raise ValidationError({"name": "The name needs at least one letter or digit."})
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError({"name": "An organization with this name already exists."})
    organization = Organization.objects.create(name=name.strip(), slug=slug)
    wallet_of_organization(organization=organization)
    _create_user(
        email=admin_email,
        full_name=admin_full_name,
        password=admin_password,
        role=Role.ORIGINATOR_ADMIN,
        organization=organization,
    )
    return organization


@transaction.atomic
def staff_member_create(
    *, organization: Organization, email: str, full_name: str, password: str, role: str
) -> User:
    """The node operator adds staff directly (e.g. when setting up an originator)."""
    if role not in STAFF_ROLES:
        raise ValidationError({"role": "Staff members are admins or agents."})
    return _create_user(
        email=email, full_name=full_name, password=password, role=role, organization=organization
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ensure_admin_of(user: User, organization_id: int | None) -> None:
    if not (
        organization_id is not None
        and user.is_active
        and user.role == Role.ORIGINATOR_ADMIN
        and user.organization_id == organization_id
    ):
        raise PermissionDenied("Only an admin of this organization can manage its staff.")


@transaction.atomic
def staff_invitation_create(
    *, invited_by: User, email: str, role: str
) -> tuple[StaffInvitation, str]:
    """Invite a colleague into the inviter's organization; returns the invitation and its token.

    The e-mail is sent only once the invitation is committed, so a rolled-back request never
    sends a working link.
    """
    _ensure_admin_of(invited_by, invited_by.organization_id)
    organization = invited_by.organization
    if role not in STAFF_ROLES:
        raise ValidationError({"role": "Staff can be invited as admin or agent only."})
    email = _normalized_email(email)
    _ensure_email_free(email)
    now = timezone.now()
    # A new invitation to the same address replaces any open one: one working link at a time.
    StaffInvitation.objects.filter(
        organization=organization, email=email, accepted_at=None, revoked_at=None
    ).update(revoked_at=now)
    token = secrets.token_urlsafe(INVITATION_TOKEN_BYTES)
    invitation = StaffInvitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        invited_by=invited_by,
        token_hash=_token_hash(token),
        created_at=now,
        expires_at=now + settings.GROWR_STAFF_INVITATION_TTL,
    )
    transaction.on_commit(lambda: _send_invitation_email(invitation, token))
    return invitation, token


def invitation_accept_url(token: str) -> str:
    return settings.GROWR_PUBLIC_URL.rstrip("/") + reverse("invitation-accept", args=[token])


def _send_invitation_email(invitation: StaffInvitation, token: str) -> None:
    send_mail(
        subject=f"You are invited to {invitation.organization.name} on {settings.GROWR_NODE_NAME}",
        message=(
            f"{invitation.invited_by.full_name} invited you to join {invitation.organization.name} "
            f"as {invitation.get_role_display().lower()}.\n\n"
            f"Accept the invitation and choose your password here:\n{invitation_accept_url(token)}"
            f"\n\nThe link works once and expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


def staff_invitation_open(*, token: str) -> StaffInvitation | None:
    """The open invitation behind TOKEN, or None when it is unknown, used, revoked or expired."""
    invitation = (
        StaffInvitation.objects.select_related("organization")
        .filter(token_hash=_token_hash(token))
        .first()
    )
    if invitation is None or not invitation.is_open():
        return None
    return invitation


@transaction.atomic
def staff_invitation_accept(*, token: str, full_name: str, password: str) -> User:
    invitation = (
        StaffInvitation.objects.select_for_update()
        .select_related("organization")
        .filter(token_hash=_token_hash(token))
        .first()
    )
    if invitation is None or not invitation.is_open():
        raise ValidationError("This invitation link is no longer valid. Ask for a new one.")
    user = _create_user(
        email=invitation.email,
        full_name=full_name,
        password=password,
        role=invitation.role,
        organization=invitation.organization,
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user"])
    notify_user(
        user_id=invitation.invited_by_id,
        kind="team",
        text=f"{user.full_name} accepted your invitation to {invitation.organization.name}.",
        link=reverse("staff:team"),
    )
    return user


@transaction.atomic
def staff_invitation_revoke(*, invitation: StaffInvitation, revoked_by: User) -> None:
    _ensure_admin_of(revoked_by, invitation.organization_id)
    if invitation.accepted_at is not None:
        raise ValidationError("This invitation was already accepted.")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])


@transaction.atomic
def staff_member_set_active(*, member: User, changed_by: User, active: bool) -> User:
    """Suspend or restore a colleague's access. Admins cannot lock themselves out."""
    _ensure_admin_of(changed_by, member.organization_id)
    if member.pk == changed_by.pk:
        raise ValidationError("You cannot change your own access.")
    member.is_active = active
    member.save(update_fields=["is_active"])
    return member


@transaction.atomic
def user_profile_update(*, user: User, full_name: str) -> User:
    full_name = full_name.strip()
    if not full_name:
        raise ValidationError({"full_name": "Please enter your name."})
    user.full_name = full_name
    user.save(update_fields=["full_name"])
    return user


def notifications_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark USER's unread notifications read: those of IDS, or all of them; return how many."""
    unread = Notification.objects.filter(user=user, read_at=None)
    if ids is not None:
        unread = unread.filter(id__in=list(ids))
    marked = unread.update(read_at=timezone.now())
    if marked:
        bell_changed(user_id=user.pk)
    return marked


# Notifications deleted per statement when pruning: short locks on a table every page reads.
PRUNE_BATCH = 5000


def notifications_prune(*, read_before: datetime) -> int:
    """Delete the notifications their person read before READ_BEFORE; return how many.

    Unread ones stay, however old: no one has seen them yet. So do those with a de-duplication
    key: they are what keeps news from a replicated book from being told again when the book is
    indexed again.

    Kept bells are not told (notifications.bell_changed): their unread counts stay true, and a
    kept newest id that names a pruned notification asks the live updates for the same ones."""
    old = Notification.objects.filter(read_at__lt=read_before, dedupe_key="")
    deleted = 0
    while ids := list(old.values_list("id", flat=True)[:PRUNE_BATCH]):
        deleted += Notification.objects.filter(id__in=ids).delete()[0]
    return deleted
