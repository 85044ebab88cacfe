"""Receivers of other apps' signals. Thin: services do the work."""

from __future__ import annotations

from .credential_services import status_lists_seen_record


def status_lists_indexed(sender, *, log_id: int, rows, **kwargs) -> None:
    status_lists_seen_record(log_id=log_id, rows=rows)
