"""A project's funding progress, live: after a commitment changes state, services send the new
figures to the project's group, and every open page of the project hears them (consumers.py)."""

from __future__ import annotations

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import selectors


def progress_group(project_id) -> str:
    """The channel layer group of the pages showing a project's funding."""
    return f"project-funding-{uuid.UUID(str(project_id)).hex}"


def progress_send(*, project_id) -> None:
    """Read the project's figures as they are now and send them to its group."""
    funding = selectors.public_project_funding(pk=project_id)
    if funding is None:  # a draft: no page shows it
        return
    async_to_sync(get_channel_layer().group_send)(
        progress_group(project_id), {"type": "funding.progress", "figures": funding.as_json()}
    )
