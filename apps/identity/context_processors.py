"""Template context for the shared layout: the node's name, the portals the person may open,
and their notification bell."""

from __future__ import annotations

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from . import selectors
from .permissions import PORTAL_ROLES, has_role, node_serves


def portal(request) -> dict:
    user = getattr(request, "user", None)
    return {
        "node_name": settings.GROWR_NODE_NAME,
        "portals": {
            name: node_serves(name) and has_role(user, roles)
            for name, roles in PORTAL_ROLES.items()
        },
        "node_portals": {name: node_serves(name) for name in PORTAL_ROLES},
    }


def notification_bell(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Read when the layout shows it, after the view's own changes (a visit to the list marks
    # notifications read before the header counts what is left).
    ahead = getattr(request, "person_read_ahead", None)
    return {"bell": SimpleLazyObject(lambda: selectors.notification_bell(user=user, ahead=ahead))}
