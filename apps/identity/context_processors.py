"""Template context for the shared layout: the node's name and the portals the person may open."""

from __future__ import annotations

from django.conf import settings

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
