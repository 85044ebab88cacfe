"""Real nodes on loopback, each with its own database, started with `manage.py runnode` and
driven with `manage.py` commands (apps/node/network.py): the harness of the multi-node tests.

`network` gives single nodes on SQLite copied from one migrated template; `demo_nodes` the
three-node demo network (A, B and investor node C with their demo data), on PostgreSQL and Redis
when the test run uses them, as CI does."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from apps.node.network import (
    DEMO_NODES,
    HOST,
    LocalNode,
    NodeSpec,
    demo_network,
    free_port,
    per_node_url,
    start_network,
    stop_network,
)
from tests.processes import ROOT, processes_with_marker

__all__ = ["HOST", "Node"]


class Node(LocalNode):
    """A node on SQLite started from the migrated template, with read access to its database."""

    def __init__(self, name: str, template: Path, root: Path, marker: str, **settings) -> None:
        shutil.copytree(template, root / name)
        role = settings.pop("GROWR_NODE_ROLE", "originator")
        super().__init__(
            NodeSpec(name, name, role, "kijani"),
            root,
            port=free_port(),
            gossip_port=free_port(),
            marker=marker,
            **settings,
        )

    def serve(self, services: str = "web", *, wait: float = 60) -> None:
        super().serve(services, wait=wait)

    def query(self, sql: str, params=()) -> list[tuple]:
        with sqlite3.connect(f"file:{self.var_dir / 'growr.sqlite3'}?mode=ro", uri=True) as db:
            return db.execute(sql, params).fetchall()

    def book(self, key: str) -> tuple[int, int, bytes]:
        """(head length, stored blocks, tree hash) of the book KEY in this node's database."""
        [(log_id, length, tree_hash)] = self.query(
            "SELECT id, length, tree_hash FROM ledger_log WHERE key = ?", [bytes.fromhex(key)]
        )
        [(stored,)] = self.query("SELECT count(*) FROM ledger_block WHERE log_id = ?", [log_id])
        return length, stored, bytes(tree_hash)


def _kill_marked(marker: str) -> None:
    for pid in processes_with_marker(f"GROWR_TEST_RUN={marker}"):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    var_dir = tmp_path_factory.mktemp("template")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="growr_site.settings.local", GROWR_VAR_DIR=str(var_dir))
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0
    return var_dir


@pytest.fixture
def network(template, tmp_path):
    marker = uuid.uuid4().hex
    nodes: list[Node] = []

    def add(name: str, **settings) -> Node:
        node = Node(name, template, tmp_path, marker, **settings)
        nodes.append(node)
        return node

    yield add
    for node in nodes:
        node.stop()
    _kill_marked(marker)


def servers_of_this_run() -> tuple[str, str]:
    """PostgreSQL (a database per node, named for this run) and Redis when the tests run on
    them; empty strings for the embedded default."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        return "", ""
    parts = urlsplit(database_url)
    run = urlunsplit(parts._replace(path=f"/growr_net_{uuid.uuid4().hex[:8]}"))
    return run, os.environ.get("REDIS_URL", "")


def demo_servers_reset(database_url: str, redis_url: str) -> None:
    """Drop the demo nodes' databases of this run and empty their Redis databases: no task or
    message of a run reaches the next."""
    for index in range(len(DEMO_NODES)):
        if database_url:
            import psycopg

            parts = urlsplit(per_node_url(database_url, index, "db"))
            with psycopg.connect(
                urlunsplit(parts._replace(path="/postgres")), autocommit=True
            ) as db:
                db.execute(f'DROP DATABASE IF EXISTS "{parts.path.strip("/")}" WITH (FORCE)')
        if redis_url:
            import redis

            redis.Redis.from_url(per_node_url(redis_url, index, "redis")).flushdb()


@pytest.fixture
def demo_nodes(tmp_path) -> list[LocalNode]:
    """The three demo nodes running, A the seed: [a, b, c]."""
    marker = uuid.uuid4().hex
    database_url, redis_url = servers_of_this_run()
    nodes = demo_network(
        tmp_path,
        ports=[(free_port(), free_port()) for _ in DEMO_NODES],
        database_url=database_url,
        redis_url=redis_url,
        marker=marker,
    )
    demo_servers_reset(database_url, redis_url)
    try:
        start_network(nodes, say=lambda text: None)
        yield nodes
    finally:
        stop_network(nodes)
        _kill_marked(marker)
        demo_servers_reset(database_url, redis_url)
