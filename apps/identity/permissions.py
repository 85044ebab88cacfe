"""Who may do what: the one place where roles are checked, for portal pages and the API alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission

from .models import STAFF_ROLES, Role

PORTAL_ROLES: dict[str, frozenset[str]] = {
    "staff": frozenset(STAFF_ROLES),
    "borrow": frozenset({Role.BORROWER}),
    "invest": frozenset({Role.INVESTOR}),
}
ORIGINATOR_ADMIN_ONLY = frozenset({Role.ORIGINATOR_ADMIN})
NODE_ROLE_PORTALS: dict[str, frozenset[str]] = {
    "originator": frozenset({"staff", "borrow", "invest"}),
    "investor": frozenset({"invest"}),
}


def node_serves(portal: str) -> bool:
    return portal in NODE_ROLE_PORTALS[settings.GROWR_NODE_ROLE]


def has_role(user, roles: Iterable[str]) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.role in roles)


def portal_home_url(user) -> str:
    """Where a signed-in person lands: their own portal, or the admin site for operators."""
    for portal, roles in PORTAL_ROLES.items():
        if node_serves(portal) and has_role(user, roles):
            return reverse(f"{portal}:home")
    if has_role(user, {Role.NODE_OPERATOR}):
        return reverse("admin:index")
    return reverse("login")


def role_required(roles: Iterable[str]) -> Callable:
    """Page decorator: anonymous people go to the login page, other roles get a 403 page."""
    allowed = frozenset(roles)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, allowed):
                raise PermissionDenied("Your account does not have access to this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def portal_required(portal: str) -> Callable:
    """Page decorator for a portal's pages: 404 where this node does not serve the portal,
    then the portal's role check."""

    def decorator(view: Callable) -> Callable:
        checked = role_required(PORTAL_ROLES[portal])(view)

        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not node_serves(portal):
                raise Http404("This node does not serve this portal.")
            return checked(request, *args, **kwargs)

        return wrapped

    return decorator


def role_permission(roles: Iterable[str]) -> type[BasePermission]:
    """An API permission class admitting authenticated, active users with one of ROLES, where
    this node serves a portal of those roles: elsewhere the operation is not found, as the
    portal's pages are not (an investor node has no staff or borrower API)."""
    allowed = frozenset(roles)
    portals = [portal for portal, portal_roles in PORTAL_ROLES.items() if portal_roles & allowed]

    class HasRole(BasePermission):
        message = "Your account's role does not allow this request."

        def has_permission(self, request, view) -> bool:
            if portals and not any(node_serves(portal) for portal in portals):
                raise NotFound("This node does not serve this part of the API.")
            return has_role(request.user, allowed)

    HasRole.__name__ = "HasRole_" + "_".join(sorted(allowed))
    return HasRole


IsOriginatorStaff = role_permission(STAFF_ROLES)
IsOriginatorAdmin = role_permission(ORIGINATOR_ADMIN_ONLY)
