"""Start a fresh three-node demo network, run the scripted journey across it, and stop."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.node.management.commands.demo_network import network_from_options, network_options
from apps.node.network import NetworkError, start_network, stop_network, watch_network
from apps.node.scenario import ScenarioError, run_scenario


class Command(BaseCommand):
    help = (
        "Run the demo journey on a fresh three-node network: C discovers A and B; a borrower "
        "applies on A and is approved, signs and is disbursed; an investor on C funds A's "
        "project from C; A records a repayment; C shows the investor's share and verifies its "
        "copies of A's loan and funding books. Exits non-zero if any step fails."
    )

    def add_arguments(self, parser) -> None:
        network_options(parser, base_port=8111, gossip_base_port=7961, folder=None)
        parser.add_argument(
            "--keep", action="store_true", help="leave the network running until Ctrl-C"
        )
        parser.add_argument("--timeout", type=float, default=90, help="seconds per waited step")

    def handle(self, *args, **options) -> None:
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it as Ctrl-C does
        with tempfile.TemporaryDirectory(prefix="growr-scenario-") as scratch:
            root = options["dir"] or Path(scratch)
            nodes = network_from_options(options, root=root, fresh=True)
            try:
                start_network(nodes, say=self.stdout.write)
                a, b, c = (node.url for node in nodes)
                result = run_scenario(
                    a_url=a, b_url=b, c_url=c, say=self.stdout.write, timeout=options["timeout"]
                )
                self.stdout.write(
                    self.style.SUCCESS(
                        f"The journey worked: C showed the repayment's share "
                        f"{result.distribution_seconds:.1f} s after A recorded it."
                    )
                )
                if options["keep"]:
                    self.stdout.write("The network keeps running; Ctrl-C stops it.")
                    watch_network(nodes)
            except (NetworkError, ScenarioError) as error:
                logs = "\n".join(f"== node {n.name}\n{n.logs(1500)}" for n in nodes)
                raise CommandError(f"{error}\n{logs}") from error
            except KeyboardInterrupt:
                self.stdout.write("\nStopping the network …")
            finally:
                stop_network(nodes)
