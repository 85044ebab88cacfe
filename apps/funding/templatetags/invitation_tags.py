"""The invitation box of an invite-only project's public page, as an inclusion tag, so the
project page needs no funding code in its view: `{% load invitation_tags %}{% invitation_box
project %}`."""

from __future__ import annotations

from django import template

from apps.identity.models import STAFF_ROLES, Role
from apps.identity.permissions import has_role, node_serves

from .. import invitation_selectors
from ..models import INVITABLE, OPEN_INVITATION

register = template.Library()


@register.inclusion_tag("funding/_invitation.html", takes_context=True)
def invitation_box(context, project) -> dict:
    request = context["request"]
    user = request.user
    investor = node_serves("invest") and has_role(user, {Role.INVESTOR})
    invitation = None
    if investor and project.invite_only:
        invitation = invitation_selectors.project_invitation(project=project, investor=user)
    return {
        "request": request,
        "user": user,
        "project": project,
        "invite_only": project.invite_only,
        "investor": investor,
        "invitation": invitation,
        "open_statuses": [str(status) for status in OPEN_INVITATION],
        "taking_investors": project.status in INVITABLE,
        "own_staff": has_role(user, STAFF_ROLES)
        and user.organization_id == project.organization_id,
    }
