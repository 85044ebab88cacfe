"""Receivers of Django's model signals for the staff pages kept per organization. Thin: the
selectors own what they keep."""

from __future__ import annotations

from apps.node.cache import next_generation_now_and_after_commit

from .selectors import staff_generation_key


def staff_pages_changed(sender, *, instance, **kwargs) -> None:
    """Something an organization's staff pages show was saved or deleted: they are built again,
    at once for reads in this transaction and again after the commit."""
    organization_id = _organization_id(instance)
    if organization_id is not None:
        next_generation_now_and_after_commit(staff_generation_key(organization_id))


def _organization_id(instance) -> int | None:
    for field in ("organization_id", "issuer_organization_id"):
        if hasattr(instance, field):
            return getattr(instance, field)
    return instance.project.organization_id  # a commitment, through its project
