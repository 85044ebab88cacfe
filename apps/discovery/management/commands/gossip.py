"""`manage.py gossip`: run this node's discovery agent in the foreground until SIGTERM or
Ctrl-C, then say goodbye to the network (a signed LEFT) and exit."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand, CommandError

from apps.discovery.runner import AgentThread


class Command(BaseCommand):
    help = "Run the discovery agent (TCP gossip) of this node until stopped."

    def handle(self, *args, **options) -> None:
        agent = AgentThread()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: agent.request_stop())
        agent.start()
        # Joined in short waits: the main thread must stay free to run the signal handlers.
        while agent.is_alive():
            agent.join(0.5)
        if agent.failure is not None:
            raise CommandError(f"the gossip agent stopped: {agent.failure}")
