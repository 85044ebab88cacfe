"""The funding section of a project's page, and how investors' pages write returns.

The project page (apps/projects) loads this section as a template tag, so that projects need
not import funding: funding builds on projects, never the other way round."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django import template

from apps.identity.models import Role
from apps.identity.permissions import has_role, node_serves
from apps.projects.models import ProjectStatus

from .. import selectors
from ..forms import CommitForm

register = template.Library()


@register.inclusion_tag("funding/_project_funding.html", takes_context=True)
def project_funding(context, project, form=None) -> dict:
    """PROJECT's target, committed and confirmed amounts with a progress bar that follows
    every commitment live, its tickets, and for a signed-in investor of this node a commit form
    (FORM when it comes back with errors) and her commitments to it."""
    request = context["request"]
    user = request.user
    funding = selectors.project_funding(project)
    investor = node_serves("invest") and has_role(user, {Role.INVESTOR})
    can_commit = investor and funding.open
    return {
        "project": project,
        "funding": funding,
        "live": project.status != ProjectStatus.DRAFT,
        "investor": investor,
        "signed_in": user.is_authenticated,
        "form": (form or CommitForm(currency=project.currency)) if can_commit else None,
        # New on every page: a double submit or a retry of this page is one commitment.
        "request_id": secrets.token_urlsafe(16) if can_commit else "",
        "mine": (
            list(selectors.project_commitments_of(investor=user, project=project))
            if investor
            else []
        ),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def percent(rate: Decimal | None) -> str:
    """A rate as a percentage: Decimal("0.2674") is "26.74 %"; none is "n/a"."""
    if rate is None:
        return "n/a"
    return f"{(rate * 100).quantize(Decimal('0.01'))} %"
