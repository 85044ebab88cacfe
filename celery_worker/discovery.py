"""The discovery agent inside the Celery worker (GROWR_GOSSIP_IN_WORKER): a bootstep that runs
it in a thread of the worker's main process for as long as the worker runs."""

from __future__ import annotations

from celery import bootsteps
from django.conf import settings


class DiscoveryAgentStep(bootsteps.StartStopStep):
    # After the pool: prefork children are forked before the agent opens its socket.
    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.agent = None

    def include_if(self, worker) -> bool:
        return settings.GROWR_GOSSIP_IN_WORKER

    def start(self, worker) -> None:
        from apps.discovery.runner import AgentThread

        self.agent = AgentThread()
        self.agent.start()

    def stop(self, worker) -> None:
        if self.agent is not None:
            self.agent.stop()
