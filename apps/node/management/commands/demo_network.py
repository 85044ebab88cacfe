"""Start the three-node demo network on loopback and keep it running until Ctrl-C."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.node.network import (
    DEMO_NODES,
    NetworkError,
    demo_network,
    start_network,
    stop_network,
    watch_network,
)

PORTAL_HINTS = {
    "a": "staff /staff/, borrowers /borrow/, investors /invest/",
    "b": "staff /staff/, borrowers /borrow/",
    "c": "investors /invest/ (the network's projects: /invest/projects/)",
}


def network_options(parser, *, base_port: int, gossip_base_port: int, folder: Path | None) -> None:
    parser.add_argument("--dir", type=Path, default=folder, help="the nodes' state folders")
    parser.add_argument("--base-port", type=int, default=base_port, help="A's web port; B, C next")
    parser.add_argument("--gossip-base-port", type=int, default=gossip_base_port)


def network_from_options(options: dict, *, root: Path, fresh: bool):
    if not settings.GROWR_DEMO_DATA_ALLOWED:
        raise CommandError("Demo networks share a published password; these settings forbid it.")
    if fresh and root.exists():
        shutil.rmtree(root)
    base, gossip_base = options["base_port"], options["gossip_base_port"]
    return demo_network(
        root,
        ports=[(base + n, gossip_base + n) for n in range(len(DEMO_NODES))],
        database_url=settings.DATABASE_URL if settings.DATABASE_URL.startswith("postgres") else "",
        redis_url=settings.REDIS_URL,
    )


class Command(BaseCommand):
    help = (
        "Run a Growr network on this machine: originators A and B and investor node C, each "
        "with its own database, web server, worker, beat and discovery agent, joined through "
        "A as the seed. Prints every portal and login; Ctrl-C stops everything."
    )

    def add_arguments(self, parser) -> None:
        network_options(
            parser,
            base_port=8101,
            gossip_base_port=7951,
            folder=settings.VAR_DIR / "demo-network",
        )
        parser.add_argument(
            "--fresh", action="store_true", help="start from empty databases (SQLite only)"
        )

    def handle(self, *args, **options) -> None:
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as Ctrl-C does
        nodes = network_from_options(options, root=options["dir"], fresh=options["fresh"])
        try:
            logins = start_network(nodes, say=self.stdout.write)
        except NetworkError as error:
            raise CommandError(str(error)) from error
        except KeyboardInterrupt:
            self.stdout.write("\nStopped before every node was up.")
            return
        try:
            self._print_network(nodes, logins)
            watch_network(nodes)
        except NetworkError as error:
            raise CommandError(str(error)) from error
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the network …")
        finally:
            stop_network(nodes)

    def _print_network(self, nodes, logins: dict[str, str]) -> None:
        self.stdout.write("")
        for node in nodes:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Node {node.name.upper()}: {node.spec.title} ({node.spec.role})"
                )
            )
            self.stdout.write(f"  web     {node.url}/   {PORTAL_HINTS[node.name]}")
            self.stdout.write(f"  gossip  {node.gossip_address}   logs in {node.var_dir}/")
            for line in logins[node.name].splitlines():
                self.stdout.write(f"  {line.strip()}")
        self.stdout.write(
            "\nC finds A and B through A's gossip port and follows their books within seconds. "
            "Ctrl-C stops every node."
        )
