"""The processes a node runs, by service name (GROWR_SERVICES); `manage.py runnode` starts them."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable

from django.conf import settings

SERVICES = ("web", "worker", "beat", "gossip")


def service_command(service: str, *, host: str, port: int, web_workers: int) -> str:
    python = shlex.quote(sys.executable)
    if service == "web":
        return (
            f"{python} -m apps.node.web_server growr_site.asgi:application "
            f"--host {shlex.quote(host)} --port {port} --workers {web_workers}"
        )
    if service == "worker":
        return (
            f"{python} -m celery -A celery_worker worker --loglevel INFO "
            f"--concurrency {settings.CELERY_WORKER_CONCURRENCY} "
            "--without-gossip --without-mingle"
        )
    if service == "beat":
        return (
            f"{python} -m celery -A celery_worker beat --loglevel INFO "
            f"--schedule {shlex.quote(settings.CELERY_BEAT_SCHEDULE_FILENAME)}"
        )
    if service == "gossip":
        return f"{python} {shlex.quote(str(settings.BASE_DIR / 'manage.py'))} gossip"
    raise ValueError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")


def checked_services(names: Iterable[str]) -> list[str]:
    names = [name.strip() for name in names if name.strip()]
    unknown = sorted(set(names) - set(SERVICES))
    if unknown:
        raise ValueError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    if not names:
        raise ValueError("no service selected")
    if settings.GROWR_GOSSIP_IN_WORKER and {"worker", "gossip"} <= set(names):
        raise ValueError(
            "GROWR_GOSSIP_IN_WORKER runs the gossip agent inside the worker: leave 'gossip' out "
            "of the services, or the two would bind the same address"
        )
    return list(dict.fromkeys(names))
