"""The Network page's live part (the picture and the nodes table, and the summary line), as
both the WebSocket and the polling fallback send it."""

from __future__ import annotations

from django.template.loader import render_to_string

from . import selectors


def network_live_update() -> dict[str, str]:
    view = selectors.network_view()
    html = render_to_string("discovery/_network_live.html", {"view": view})
    return {"html": html, "summary": view.summary}
