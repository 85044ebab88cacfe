"""`make demo` and `make demo-scenario`: three real nodes on loopback, each with its own
database, web server, worker, beat and discovery agent (on PostgreSQL and Redis when the tests
run on them). Kofi's investor node C finds Kijani's node A and Sahel's node B through A alone;
Wanjiru borrows on A; Kofi funds her project from C; A's repayment reaches Kofi's portfolio on C
and C's copies of A's books verify from nothing. Ctrl-C stops every process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.request import urlopen

import pytest

from apps.node.network import port_in_use
from apps.node.scenario import ScenarioError, run_scenario
from tests.nodes import demo_servers_reset, servers_of_this_run
from tests.processes import ROOT, processes_with_marker

pytestmark = pytest.mark.processes


def _free_run_of_ports(count: int) -> int:
    """A port P with P .. P+COUNT-1 all free (the demo numbers its nodes' ports from a base),
    below the ports the system hands out to outgoing connections: one of those took a gossip
    port between this check and the node's bind once, and node C never came up."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    first_ephemeral = int(ephemeral.read_text().split()[0]) if ephemeral.exists() else 32768
    for base in range(20000 + os.getpid() % 10000, first_ephemeral - count, 7):
        if not any(port_in_use(port) for port in range(base, base + count)):
            return base
    raise AssertionError("no free run of ports")


def _launch_demo(
    tmp_path, marker: str, *, until: str = "Ctrl-C stops every node"
) -> tuple[subprocess.Popen, list[str], dict]:
    web = _free_run_of_ports(6)
    gossip = web + 3
    database_url, redis_url = servers_of_this_run()
    demo_servers_reset(database_url, redis_url)
    env = {**os.environ, "GROWR_TEST_RUN": marker, "DATABASE_URL": database_url}
    env["REDIS_URL"] = redis_url
    launcher = subprocess.Popen(
        [sys.executable, "manage.py", "demo_network", "--dir", str(tmp_path / "net"),
         "--base-port", str(web), "--gossip-base-port", str(gossip)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    printed: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = launcher.stdout.readline()
        if not line:
            break
        printed.append(line.rstrip())
        if until in line:
            return launcher, printed, {"web": web, "servers": (database_url, redis_url)}
    launcher.kill()
    pytest.fail("the demo network did not start:\n" + "\n".join(printed[-80:]))


def test_the_demo_network_runs_the_journey_and_ctrl_c_stops_every_process(tmp_path):
    marker = uuid.uuid4().hex
    launcher, printed, run = _launch_demo(tmp_path, marker)
    urls = [f"http://127.0.0.1:{run['web'] + n}" for n in range(3)]
    try:
        output = "\n".join(printed)
        # Every portal and login is printed.
        for url in urls:
            assert f"web     {url}/" in output
        for login in ("agent@kijani.demo.growr.test", "wanjiru@demo.growr.test",
                      "admin@sahel.demo.growr.test", "kofi@own.demo.growr.test"):  # fmt: skip
            assert login in output
        assert "growr-demo-2026" in output
        for url in urls:
            with urlopen(f"{url}/health/", timeout=10) as answer:
                assert json.loads(answer.read())["status"] == "ok"

        result = run_scenario(a_url=urls[0], b_url=urls[1], c_url=urls[2], say=printed.append)

        assert result.position["status"] == "confirmed"
        assert Decimal(result.position["principal_returned"]) > 0
        assert result.position["principal_returned"] == result.repayment["principal"]
        assert set(result.verified_books) == {"loans", "funding"}
        # The borrower's name never reaches C: its copies of A's books hold none of it.
        for kind in ("loans", "funding"):
            assert b"Wanjiru" not in _book_bytes(urls[2], result.verified_books[kind])
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(timeout=60)
        finally:
            left = [pid for pid in processes_with_marker(f"GROWR_TEST_RUN={marker}")]
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            demo_servers_reset(*run["servers"])
    assert left == [], "Ctrl-C left processes running"
    assert not any(port_in_use(run["web"] + n) for n in range(3))


def test_stopped_while_the_network_starts_it_stops_the_nodes_already_running(tmp_path):
    """With `kill`, as a service manager stops it: the launcher takes it as Ctrl-C."""
    marker = uuid.uuid4().hex
    launcher, printed, run = _launch_demo(tmp_path, marker, until="node a (")
    try:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=60)
    finally:
        left = processes_with_marker(f"GROWR_TEST_RUN={marker}")
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        demo_servers_reset(*run["servers"])
    assert left == [], "stopped while starting, it left processes running:\n" + "\n".join(printed)
    assert "Stopped before every node was up." in launcher.stdout.read()
    assert not any(port_in_use(run["web"] + n) for n in range(3))


def _book_bytes(c_url: str, verified: dict) -> bytes:
    """The blocks of C's copy of a book, as its read API serves them to anyone."""
    blocks = (
        f"{c_url}/api/books/{verified['key']}/replication/"
        f"?start=0&end={verified['length']}&encoding=binary"
    )
    with urlopen(blocks, timeout=10) as answer:
        return answer.read()


def test_a_step_that_fails_says_which_and_why():
    """A journey against a node that is not there stops with the step and the reason, not a
    traceback."""
    with pytest.raises(ScenarioError, match=r"api/auth/token.*refused"):
        run_scenario(a_url="http://127.0.0.1:9", b_url="http://127.0.0.1:9",
                     c_url="http://127.0.0.1:9", timeout=1)  # fmt: skip
