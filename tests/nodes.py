"""Real nodes on loopback, each with its own SQLite database under a temporary folder, started
with `manage.py runnode` and driven with `manage.py` commands: the harness of the multi-node
tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.processes import ROOT, processes_with_marker

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _env(var_dir: Path, marker: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="growr_site.settings.local",
        GROWR_VAR_DIR=str(var_dir),
        GROWR_TEST_RUN=marker,
    )
    return env


class Node:
    def __init__(self, name: str, template: Path, root: Path, marker: str, **settings) -> None:
        self.name = name
        self.var_dir = root / name
        shutil.copytree(template, self.var_dir)
        self.port = _free_port()
        self.gossip_port = _free_port()
        self.env = _env(self.var_dir, marker)
        self.env.update(
            GROWR_NODE_NAME=name,
            GROWR_PUBLIC_URL=self.url,
            GROWR_GOSSIP_BIND=f"{HOST}:{self.gossip_port}",
            **settings,
        )
        self.processes: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def serve(self, services: str = "web") -> None:
        """Run SERVICES of this node (runnode), waiting for its web port if it serves one."""
        log = (self.var_dir / f"{services.replace(',', '-')}.log").open("w")
        command = [sys.executable, "manage.py", "runnode", "--services", services]
        self.processes.append(
            subprocess.Popen(
                [*command, "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        if "web" not in services.split(","):
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex((HOST, self.port)) == 0:
                    return
            time.sleep(0.2)
        pytest.fail(f"{self.name}'s web process did not start")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def logs(self) -> str:
        return "\n".join(f.read_text()[-3000:] for f in self.var_dir.glob("*.log"))

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


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    var_dir = tmp_path_factory.mktemp("template")
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=_env(var_dir, "template"),
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
    for pid in processes_with_marker(f"GROWR_TEST_RUN={marker}"):
        os.kill(pid, signal.SIGKILL)
