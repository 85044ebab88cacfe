"""Receivers of Django's model signals for projects. Thin: the selectors own what they cache."""

from __future__ import annotations

from django.db import transaction

from . import selectors


def project_changed(sender, **kwargs) -> None:
    """A project was saved or deleted: the time of the last change is asked anew at once, for
    reads in this transaction, and again after the commit, for a read that asked in between (it
    saw the time before the change)."""
    selectors.forget_projects_changed()
    transaction.on_commit(selectors.forget_projects_changed, robust=True)
