"""Running this node's discovery agent (gossip/agent.py) against the database and settings, in
its own thread with its own event loop: `manage.py gossip` runs it in the foreground, the Celery
worker in the background (celery_worker/discovery.py) when GROWR_GOSSIP_IN_WORKER is set. Never
inside a task: a task ends, the agent must not."""

from __future__ import annotations

import asyncio
import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection

from . import selectors, services
from .gossip.agent import AgentSettings, GossipAgent, PeerView
from .gossip.claims import NodeRecord
from .gossip.engine import GossipNode
from .gossip.records import NodeKey, network_id_for
from .gossip.transport import Address

logger = logging.getLogger(__name__)


class DatabaseStore:
    """The agent's store: the peer table and this node's identity row."""

    def __init__(self, *, key: NodeKey, network_id: bytes) -> None:
        self.key = key
        self.network_id = network_id

    def save(self, view: PeerView) -> None:
        close_old_connections()  # the thread outlives connections the database dropped
        services.agent_view_save(view=view)

    def next_record(self, current: NodeRecord) -> NodeRecord | None:
        close_old_connections()
        return services.own_record_next(key=self.key, network_id=self.network_id, current=current)

    def banned(self) -> frozenset[bytes]:
        close_old_connections()
        return selectors.banned_node_ids()

    def close(self) -> None:
        """Release the store thread's database connection: the thread ends with the agent,
        and an open connection would outlive it (and keep a test database from being dropped)."""
        connection.close()


def agent_build() -> tuple[GossipAgent, Address]:
    """The agent for this node and the address to bind; database work, so call it outside any
    event loop."""
    key, identity = services.node_identity_start()
    network_id = network_id_for(settings.GROWR_NETWORK)
    record = services.own_record_next(key=key, network_id=network_id, current=None)
    node = GossipNode(
        key=key, network_id=network_id, record=record, incarnation=identity.incarnation
    )
    agent = GossipAgent(
        node=node,
        store=DatabaseStore(key=key, network_id=network_id),
        settings=AgentSettings(seeds=selectors.gossip_seed_addresses()),
    )
    return agent, services.gossip_bind_address()


class AgentThread(threading.Thread):
    """The agent's event loop in a thread; `stop` asks it to say goodbye and waits for it."""

    def __init__(self) -> None:
        super().__init__(name="gossip-agent", daemon=True)
        self.started = threading.Event()
        self.failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._stop_requested = threading.Event()

    def run(self) -> None:
        try:
            agent, (host, port) = agent_build()
            asyncio.run(self._serve(agent, host, port))
        except BaseException as error:
            self.failure = error
            logger.exception("the gossip agent stopped on an error")
        finally:
            self.started.set()
            close_old_connections()

    async def _serve(self, agent: GossipAgent, host: str, port: int) -> None:
        self._stopping = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stop_requested.is_set():  # asked to stop while it was being built
            self._stopping.set()
        serving = asyncio.create_task(agent.run(host=host, port=port, stopping=self._stopping))
        while agent.transport.port is None and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():  # it failed before it could listen: its error says why
            await serving
        logger.info(
            "gossip agent %s listening on %s:%s, network %r, %d seed(s)",
            agent.node.node_id.hex()[:16],
            host,
            agent.transport.port,
            settings.GROWR_NETWORK,
            len(agent.settings.seeds),
        )
        self.started.set()
        await serving

    def request_stop(self) -> None:
        """Ask the agent to leave the network and end; safe from a signal handler."""
        self._stop_requested.set()
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    def stop(self, *, timeout: float = 5.0) -> None:
        self.request_stop()
        self.join(timeout)
