"""Run the node's processes (web, worker, beat) under one supervisor; Ctrl-C stops them all."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from honcho.manager import Manager
from honcho.printer import Printer

from apps.node.processes import checked_services, service_command


class Command(BaseCommand):
    help = "Start the node's processes selected by GROWR_SERVICES (default: web, worker, beat)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("GROWR_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--services",
            default=",".join(settings.GROWR_SERVICES),
            help="comma-separated subset of web,worker,beat",
        )
        parser.add_argument(
            "--web-workers",
            type=int,
            default=int(os.environ.get("WEB_CONCURRENCY", "1")),
            help="uvicorn worker processes (the embedded default needs 1: in-process channels)",
        )

    def handle(self, *args, host: str, port: int, services: str, web_workers: int, **options):
        try:
            selected = checked_services(services.split(","))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        # Children inherit the environment, so they run with this command's settings module.
        env = dict(os.environ)
        manager = Manager(Printer(sys.stdout))
        for name in selected:
            command = service_command(name, host=host, port=port, web_workers=web_workers)
            manager.add_process(name, command, env=env, cwd=str(settings.BASE_DIR))
        if "web" in selected:
            self.stdout.write(f"Growr node on http://{host}:{port}/ (Ctrl-C stops every process)")
        manager.loop()
        sys.exit(manager.returncode)
