"""A network of Growr nodes on one machine, over loopback: each node its own database, state
folder, web server, worker, beat and discovery agent (`manage.py runnode`), joined through one
seed. The three-node demo (`manage.py demo_network`) and the multi-node tests run on it.

Plain Python: it starts `manage.py` processes with each node's environment and never imports
Django, so one launcher can run nodes on other settings than its own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
# What a node must not inherit from the launcher's environment: each node has its own.
NODE_OWN_SETTINGS = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY", "PORT"}


class NetworkError(Exception):
    """A node could not be set up or started; the message says which and why."""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    title: str
    role: str  # originator or investor
    profile: str  # the demo data it gets (apps/node/demo.py)


DEMO_NODES = (
    NodeSpec("a", "Kijani Microfinance", "originator", "kijani"),
    NodeSpec("b", "Sahel Growers Credit", "originator", "sahel"),
    NodeSpec("c", "Kofi's investor node", "investor", "investor"),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) == 0


def per_node_url(url: str, node_index: int, kind: str) -> str:
    """The database or Redis URL of the node at NODE_INDEX, from the one given to the whole
    network: its own PostgreSQL database (name_a, name_b...) or Redis database number."""
    parts = urlsplit(url)
    if kind == "redis":
        base = int(parts.path.strip("/") or 0)
        return urlunsplit(parts._replace(path=f"/{(base + 1 + node_index) % 16}"))
    name = parts.path.strip("/") or "growr"
    return urlunsplit(parts._replace(path=f"/{name}_{chr(ord('a') + node_index)}"))


class LocalNode:
    """One node: its folder under the network's root, its ports and environment, its
    processes."""

    def __init__(
        self,
        spec: NodeSpec,
        root: Path,
        *,
        port: int,
        gossip_port: int,
        seeds: tuple[str, ...] = (),
        database_url: str = "",
        redis_url: str = "",
        marker: str = "",
        **settings: str,
    ) -> None:
        self.spec = spec
        self.var_dir = root / spec.name
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.gossip_port = gossip_port
        self.processes: list[subprocess.Popen] = []
        self.env = {k: v for k, v in os.environ.items() if k not in NODE_OWN_SETTINGS}
        self.env.update(
            DJANGO_SETTINGS_MODULE="growr_site.settings.local",
            GROWR_VAR_DIR=str(self.var_dir),
            GROWR_NODE_NAME=spec.title,
            GROWR_NODE_ROLE=spec.role,
            GROWR_PUBLIC_URL=self.url,
            GROWR_GOSSIP_BIND=self.gossip_address,
            GROWR_GOSSIP_SEEDS=",".join(seeds),
            PYTHONUNBUFFERED="1",
        )
        if marker:  # lets a test find and kill every process of its network
            self.env["GROWR_TEST_RUN"] = marker
        if database_url:
            self.env["DATABASE_URL"] = database_url
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.env.update(settings)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def gossip_address(self) -> str:
        return f"{HOST}:{self.gossip_port}"

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(  # noqa: S603 (this interpreter and manage.py, no shell)
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def checked(self, *args: str) -> str:
        """Run a manage.py command; its output, or NetworkError with its error output."""
        result = self.manage(*args)
        if result.returncode != 0:
            raise NetworkError(
                f"node {self.name}: manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def create_database(self) -> None:
        """Create the node's PostgreSQL database when it has one and it is missing."""
        url = self.env.get("DATABASE_URL", "")
        if not url.startswith("postgres"):
            return
        import psycopg  # only a network on PostgreSQL needs it

        parts = urlsplit(url)
        name = parts.path.strip("/")
        admin = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')

    def set_up(self) -> str:
        """Migrate and create the node's demo data; the logins it prints (after the e-mails the
        demo's events send, which a console e-mail backend prints first)."""
        self.create_database()
        self.checked("migrate", "--noinput", "-v0")
        printed = self.checked("seed_demo", "--profile", self.spec.profile)
        return printed[printed.rfind("Demo logins") :]

    def serve(self, services: str = "web,worker,beat,gossip", *, wait: float = 90) -> None:
        """Run SERVICES of this node (runnode), its output in a log file; waits for its web port
        if it serves one."""
        log = (self.var_dir / f"{services.replace(',', '-')}.log").open("w")
        self.processes.append(
            subprocess.Popen(  # noqa: S603 (this interpreter and manage.py, no shell)
                [sys.executable, "manage.py", "runnode", "--services", services,
                 "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the launcher's terminal reaches it once
            )
        )  # fmt: skip
        if "web" in services.split(","):
            self.wait_for_web(wait)

    def wait_for_web(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if port_in_use(self.port):
                return
            if any(p.poll() is not None for p in self.processes):
                break
            time.sleep(0.2)
        raise NetworkError(f"node {self.name}'s web server did not start:\n{self.logs()}")

    def wait_until_healthy(self, wait: float) -> None:
        """Until /health/ says every component is up (the worker has reported in); a node whose
        process ended (one of its services failed) is reported at once, not at the deadline."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                with urlopen(f"{self.url}/health/", timeout=5):  # noqa: S310 (loopback URL)
                    return
            except OSError:  # 503 (HTTPError) while a component is not up yet, or no answer
                if any(p.poll() is not None for p in self.processes):
                    raise NetworkError(f"node {self.name} stopped:\n{self.logs()}") from None
                time.sleep(0.5)
        raise NetworkError(f"node {self.name} did not become healthy:\n{self.logs()}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {f.name}\n{f.read_text(errors='replace')[-tail:]}"
            for f in sorted(self.var_dir.glob("*.log"))
        )


def watch_network(nodes: Sequence[LocalNode]) -> None:
    """Until Ctrl-C (KeyboardInterrupt); NetworkError, with its logs, when a node's process
    ends (one of its services failed), checked every second."""
    while True:
        time.sleep(1)
        for node in nodes:
            if any(process.poll() is not None for process in node.processes):
                raise NetworkError(f"node {node.name} stopped:\n{node.logs()}")


def demo_network(
    root: Path,
    *,
    ports: list[tuple[int, int]],
    database_url: str = "",
    redis_url: str = "",
    marker: str = "",
    **settings: str,
) -> list[LocalNode]:
    """The three demo nodes under ROOT on PORTS (web, gossip) each: A the seed, B and C joining
    through it. On PostgreSQL and Redis when DATABASE_URL and REDIS_URL are given (a database
    and a Redis database each), else each on the embedded default."""
    seed = f"{HOST}:{ports[0][1]}"
    return [
        LocalNode(
            spec,
            root,
            port=port,
            gossip_port=gossip_port,
            seeds=() if index == 0 else (seed,),
            database_url=per_node_url(database_url, index, "db") if database_url else "",
            redis_url=per_node_url(redis_url, index, "redis") if redis_url else "",
            marker=marker,
            **settings,
        )
        for index, (spec, (port, gossip_port)) in enumerate(zip(DEMO_NODES, ports, strict=True))
    ]


def start_network(nodes: list[LocalNode], *, say=print) -> dict[str, str]:
    """Set up every node (at once: each its own database) and start them, the seed first; the
    demo logins each printed, by node name. Stops what started if any node fails, or on Ctrl-C."""
    for node in nodes:
        for port in (node.port, node.gossip_port):
            if port_in_use(port):
                raise NetworkError(f"port {port} (node {node.name}) is in use: choose other ports")
    say(f"Setting up {len(nodes)} nodes under {nodes[0].var_dir.parent} …")
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        logins = dict(zip([n.name for n in nodes], pool.map(LocalNode.set_up, nodes), strict=True))
    try:
        for node in nodes:
            node.serve()
        for node in nodes:
            node.wait_until_healthy(120)
            say(f"  node {node.name} ({node.spec.title}) is up on {node.url}")
    except (NetworkError, KeyboardInterrupt):
        # Each node runs in its own session, out of reach of the terminal's Ctrl-C.
        stop_network(nodes)
        raise
    return logins


def stop_network(nodes: list[LocalNode]) -> None:
    for node in reversed(nodes):
        node.stop()
