"""Eight real nodes on loopback, each `manage.py gossip` with its own database, joined through
one seed: they all find each other; a killed node is declared dead by every other within the
bound the default timers give; restarted, it rejoins with a higher incarnation. A node of
another network is refused, and a peer that forges another node's LEFT or ALIVE is ignored."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.discovery.gossip.claims import Role, Status
from apps.discovery.gossip.codec import uint
from apps.discovery.gossip.membership import Timers
from apps.discovery.gossip.records import (
    CLAIM_DOMAIN,
    CLAIM_VERSION,
    NodeKey,
    network_id_for,
    node_id_for,
)
from apps.discovery.gossip.transport import Transport
from apps.discovery.gossip.wire import Gossip, Update, UpdateKind
from tests.discovery.records import signed_record
from tests.processes import ROOT, processes_with_marker

pytestmark = pytest.mark.processes

HOST = "127.0.0.1"
NETWORK = "growr-loopback-test"
NODES = 8
STARTUP_SECONDS = 90
FLUSH_SECONDS = 2.0  # AgentSettings.flush_interval: how late the database may be
GOSSIP_COMMAND = [sys.executable, "manage.py", "gossip"]
WORKER_COMMAND = [
    *(sys.executable, "-m", "celery", "-A", "celery_worker", "worker", "--loglevel", "INFO"),
    *("--concurrency", "1", "--without-gossip", "--without-mingle"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _detection_bound(members: int) -> float:
    """Every node probes each member once per round of `members` probe periods; the first
    suspicion then expires at the latest after the longest suspicion timeout; the news of the
    death and the write-behind follow."""
    timers = Timers()
    probing = members * timers.probe_interval + timers.probe_timeout
    return probing + timers.suspicion_max(members) + timers.gossip_interval * 10 + FLUSH_SECONDS


@dataclass
class Node:
    name: str
    var_dir: Path
    port: int
    env: dict[str, str]
    command: list[str]
    process: subprocess.Popen | None = None

    @property
    def database(self) -> Path:
        return self.var_dir / "growr.sqlite3"

    def start(self) -> None:
        log = (self.var_dir / "gossip.log").open("a")
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def log(self) -> str:
        return (self.var_dir / "gossip.log").read_text()[-4000:]

    def query(self, sql: str, params=()) -> list[tuple]:
        for _ in range(50):
            try:
                with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5) as db:
                    return db.execute(sql, params).fetchall()
            except sqlite3.OperationalError:  # locked by the agent's write, or not created yet
                time.sleep(0.1)
        raise AssertionError(f"{self.name}: database unreadable")

    def node_id(self) -> bytes | None:
        """Its node id once its agent has signed a record (so it is about to gossip)."""
        rows = self.query("SELECT public_key, record_seq FROM discovery_nodeidentity")
        if not rows or not rows[0][1]:
            return None
        return node_id_for(bytes(rows[0][0]))

    def peers(self) -> dict[bytes, tuple[int, int]]:
        """Node id: (status, incarnation), as this node's database holds them."""
        rows = self.query("SELECT node_id, status, incarnation FROM discovery_peer")
        return {bytes(n): (status, incarnation) for n, status, incarnation in rows}

    def counters(self) -> dict:
        rows = self.query("SELECT counters FROM discovery_nodeidentity")
        return json.loads(rows[0][0]) if rows else {}


@pytest.fixture(scope="module")
def template_var_dir(tmp_path_factory) -> Path:
    """One migrated embedded database (and master key) that every node starts a copy of."""
    var_dir = tmp_path_factory.mktemp("template")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=_env(var_dir),
        check=True,
        timeout=300,
    )
    return var_dir


def _env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY"}
    }
    env.update(DJANGO_SETTINGS_MODULE="growr_site.settings.local", GROWR_VAR_DIR=str(var_dir))
    env.update(extra)
    return env


class Network:
    def __init__(self, template: Path, root: Path) -> None:
        self.template = template
        self.root = root
        self.marker = uuid.uuid4().hex
        self.nodes: list[Node] = []

    def add(
        self,
        name: str,
        *,
        seeds: list[Node],
        network: str = NETWORK,
        command: list[str] = GOSSIP_COMMAND,
        **settings: str,
    ) -> Node:
        var_dir = self.root / name
        shutil.copytree(self.template, var_dir)
        port = _free_port()
        env = _env(
            var_dir,
            GROWR_NODE_NAME=name,
            GROWR_NETWORK=network,
            GROWR_GOSSIP_BIND=f"{HOST}:{port}",
            GROWR_GOSSIP_SEEDS=",".join(f"{HOST}:{s.port}" for s in seeds),
            GROWR_TEST_RUN=self.marker,
            **settings,
        )
        node = Node(name, var_dir, port, env, command)
        node.start()
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        deadline = time.monotonic() + 10
        while processes_with_marker(f"GROWR_TEST_RUN={self.marker}"):
            if time.monotonic() > deadline:
                for pid in processes_with_marker(f"GROWR_TEST_RUN={self.marker}"):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.2)


def _wait_for(condition, *, seconds: float, what: str, nodes: list[Node]) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            logs = "\n".join(f"--- {n.name}\n{n.log()}" for n in nodes)
            pytest.fail(f"not within {seconds:.0f} s: {what}\n{logs}")
        time.sleep(0.25)
    return time.monotonic() - started


def _sees(node: Node, other: bytes, status: Status, *, above: int = -1) -> bool:
    state = node.peers().get(other)
    return state is not None and state[0] == status and state[1] > above


@pytest.fixture
def network(template_var_dir, tmp_path):
    net = Network(template_var_dir, tmp_path)
    yield net
    net.stop()


def test_eight_nodes_find_each_other_detect_a_death_and_see_the_node_come_back(network):
    seed = network.add("node-0", seeds=[])
    nodes = [seed] + [network.add(f"node-{i}", seeds=[seed]) for i in range(1, NODES)]
    _wait_for(
        lambda: all(n.node_id() for n in nodes),
        seconds=STARTUP_SECONDS,
        what="every node started",
        nodes=nodes,
    )
    ids = {n.name: n.node_id() for n in nodes}

    def everyone_alive() -> bool:
        return all(_sees(n, ids[o.name], Status.ALIVE) for n in nodes for o in nodes if o is not n)

    _wait_for(everyone_alive, seconds=30, what="all eight see each other alive", nodes=nodes)

    victim, survivors = nodes[-1], nodes[:-1]
    incarnation = max(n.peers()[ids[victim.name]][1] for n in survivors)
    victim.kill()
    bound = _detection_bound(NODES - 1)
    took = _wait_for(
        lambda: all(_sees(n, ids[victim.name], Status.DEAD) for n in survivors),
        seconds=bound,
        what=f"every survivor marks {victim.name} dead",
        nodes=nodes,
    )
    print(f"death known everywhere after {took:.1f} s (bound {bound:.1f} s)")

    victim.start()
    _wait_for(
        lambda: all(_sees(n, ids[victim.name], Status.ALIVE, above=incarnation) for n in survivors),
        seconds=30,
        what=f"{victim.name} back alive everywhere with an incarnation above {incarnation}",
        nodes=nodes,
    )
    assert victim.node_id() == ids[victim.name]  # the same key, from its sealed row


def test_a_node_of_another_network_is_refused_and_forgeries_are_ignored(network):
    amani = network.add("amani", seeds=[])
    baraka = network.add("baraka", seeds=[amani])
    nodes = [amani, baraka]
    _wait_for(
        lambda: amani.node_id() and baraka.node_id() and _sees(amani, baraka.node_id(), 0),
        seconds=STARTUP_SECONDS,
        what="amani and baraka know each other",
        nodes=nodes,
    )
    baraka_id = baraka.node_id()

    stranger = network.add("stranger", seeds=[amani], network="growr-elsewhere")
    nodes.append(stranger)
    _wait_for(
        lambda: amani.counters().get("refused", {}).get("wrong network", 0) >= 1,
        seconds=STARTUP_SECONDS,
        what="amani refuses the stranger's network",
        nodes=nodes,
    )
    assert stranger.peers() == {}
    assert set(amani.peers()) == {baraka_id}

    public_key = bytes(amani.query("SELECT public_key FROM discovery_peer")[0][0])
    refused_before = amani.counters().get("refused_updates", 0)
    baraka_before = amani.peers()[baraka_id]
    asyncio.run(_send_forgeries(amani, baraka_id, public_key, above=baraka_before[1]))

    _wait_for(
        lambda: amani.counters().get("refused_updates", 0) >= refused_before + 2,
        seconds=10,
        what="amani refuses both forged claims",
        nodes=nodes,
    )
    # The refusals are counted as the claims are handled and saved by the same flush as any
    # change they made, so the table now shows what the forgeries did: nothing.
    assert amani.peers()[baraka_id] == baraka_before
    assert baraka_before[0] == Status.ALIVE
    assert baraka.peers()[amani.node_id()][0] == Status.ALIVE


def test_the_celery_worker_runs_the_agent_when_asked_and_says_goodbye_when_stopped(network):
    worker = network.add(
        "worker-node", seeds=[], command=WORKER_COMMAND, GROWR_GOSSIP_IN_WORKER="true"
    )
    amani = network.add("amani", seeds=[worker])
    nodes = [worker, amani]
    _wait_for(
        lambda: worker.node_id() and amani.node_id() and _sees(amani, worker.node_id(), 0),
        seconds=STARTUP_SECONDS,
        what="amani joins through the worker's agent",
        nodes=nodes,
    )
    _wait_for(
        lambda: _sees(worker, amani.node_id(), Status.ALIVE),
        seconds=30,
        what="the worker's agent stores amani",
        nodes=nodes,
    )

    worker.stop()  # SIGTERM: Celery's warm shutdown stops the bootstep

    _wait_for(
        lambda: _sees(amani, worker.node_id(), Status.LEFT),
        seconds=30,
        what="amani hears the worker's agent leave",
        nodes=nodes,
    )


async def _send_forgeries(
    target: Node, victim_id: bytes, victim_public_key: bytes, *, above: int
) -> None:
    """Mallory, a node of the right network, says the victim LEFT (signed by herself) and that
    it is ALIVE (in the victim's name, signed by herself), both at incarnations above the
    victim's own, which would win if they were believed."""
    network_id = network_id_for(NETWORK)
    mallory = NodeKey.from_seed(b"mallory".ljust(32, b"\0"))
    record = signed_record(
        mallory, network_id=network_id, name="Mallory", role=Role.INVESTOR, port=_free_port()
    )

    def forged(signer_public_key: bytes, status: Status, incarnation: int) -> bytes:
        content = b"".join(
            [
                uint(CLAIM_VERSION, 1),
                signer_public_key,
                network_id,
                uint(status, 1),
                victim_id,
                uint(incarnation, 8),
            ]
        )
        return content + mallory.sign(CLAIM_DOMAIN, content)

    left = Update(UpdateKind.CLAIM, forged(mallory.public_key, Status.LEFT, above + 50))
    alive = Update(UpdateKind.CLAIM, forged(victim_public_key, Status.ALIVE, above + 99))
    transport = Transport(
        key=mallory, network_id=network_id, record=lambda: record, deliver=lambda *_: None
    )
    try:
        # Sent and drained: the bytes are with the kernel, delivered before the close.
        assert await transport.send(HOST, target.port, Gossip((left, alive)))
    finally:
        await transport.close()
