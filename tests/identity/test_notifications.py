"""Live notifications reach a signed-in person's open pages over WebSocket."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from apps.identity.notifications import notify_user
from growr_site.asgi import application


def _communicator(user=None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, "/ws/notifications/", headers=[(b"origin", b"http://127.0.0.1")]
    )
    if user is not None:
        communicator.scope["user"] = user
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_amina_hears_when_her_invitee_joins():
    from tests.factories import OrganizationFactory, StaffFactory

    amina = await sync_to_async(StaffFactory)(
        role="originator_admin", organization=await sync_to_async(OrganizationFactory)()
    )
    communicator = _communicator(amina)
    connected, _ = await communicator.connect()
    assert connected

    await sync_to_async(notify_user)(user_id=amina.pk, kind="team", text="Baraka joined.")

    assert await communicator.receive_json_from(timeout=2) == {
        "kind": "team",
        "text": "Baraka joined.",
    }
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_anonymous_sockets_are_closed():
    communicator = _communicator()

    connected, code = await communicator.connect()

    assert not connected
    assert code == 4401
