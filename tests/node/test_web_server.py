"""The node's web server (apps/node/web_server.py): its workers listen on sockets of their own,
so connections opened at once are spread over them; a worker that dies is started again; SIGTERM
stops them all; a taken port and an application that cannot start are reported, not retried
for ever."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.node.pid_asgi_app:app"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(port: int, *, app: str = APP, workers: int = 2) -> subprocess.Popen:
    command = [sys.executable, "-m", "apps.node.web_server", app, "--port", str(port)]
    command += ["--workers", str(workers), "--graceful-seconds", "2"]
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _ask(sock: socket.socket) -> int:
    """The pid that answers a request on SOCK (kept alive)."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.split(b"\r\n\r\n", 1)[1].isdigit():
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        answer += chunk
    return int(answer.split(b"\r\n\r\n", 1)[1])


def _pids_of(port: int, connections: int) -> Counter:
    """Opens CONNECTIONS at once, then asks once on each: how many each process answered."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(connections)]
    try:
        return Counter(_ask(sock) for sock in socks)
    finally:
        for sock in socks:
            sock.close()


def _wait_until_served(port: int, server: subprocess.Popen, *, workers: int) -> set[int]:
    """The pids of WORKERS workers once each answers. Spawned workers take a second or two to
    start, and an answer is the only sign of it that can be trusted (uvicorn logs its start
    before it listens): until then connections are refused, and asked again a little later.
    A server that exits fails at once with its output; one that never serves, after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read()
        try:
            pids = set(_pids_of(port, 40))
        except OSError:  # refused: not listening yet
            pids = set()
        if len(pids) == workers:
            return pids
        time.sleep(0.2)  # paces the polling only; the deadline above is what can fail
    raise AssertionError(f"{workers} workers did not all answer in time")


@pytest.fixture
def two_workers():
    port = _free_port()
    server = _start(port)
    pids = _wait_until_served(port, server, workers=2)
    yield port, server, pids
    if server.poll() is None:
        server.kill()
        server.wait()


def test_connections_opened_at_once_are_spread_over_the_workers(two_workers):
    port, _, pids = two_workers

    served = _pids_of(port, 60)

    assert set(served) == pids
    # By the kernel's hash of their addresses: a split beyond 45 to 15 has odds of about 1e-4.
    assert min(served.values()) >= 15, served


def test_a_worker_that_dies_is_started_again(two_workers):
    port, server, pids = two_workers
    dead = min(pids)

    os.kill(dead, signal.SIGKILL)
    again = _wait_until_served(port, server, workers=2)

    assert dead not in again and len(again & pids) == 1


def test_sigterm_stops_every_worker(two_workers):
    _, server, pids = two_workers

    server.send_signal(signal.SIGTERM)

    assert server.wait(timeout=15) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_server_killed_outright_takes_its_workers_with_it(two_workers):
    """SIGKILL, as the OOM killer sends it: the parent cannot stop its workers itself."""
    port, server, pids = two_workers

    server.kill()
    server.wait()

    assert not _still_running(pids, seconds=15), "workers serve on without their parent"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def _still_running(pids: set[int], *, seconds: float) -> set[int]:
    """Those of PIDS that have not exited SECONDS from now. Orphans are not this process's to
    wait for, but Linux's pidfd of a process becomes readable the moment it exits."""
    deadline = time.monotonic() + seconds
    running = set()
    for pid in pids:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:  # exited and reaped already
            continue
        try:
            exited, _, _ = select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(pidfd)
        if not exited:
            running.add(pid)
    return running


def test_a_port_in_use_is_reported():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = _start(taken.getsockname()[1])

        output, _ = server.communicate(timeout=15)

    assert server.returncode == 1
    assert "cannot listen on 127.0.0.1" in output


def test_an_application_that_cannot_start_stops_the_server():
    server = _start(_free_port(), app="tests.node.no_such_module:app")

    output, _ = server.communicate(timeout=60)

    assert server.returncode == 1
    assert "3 workers died as they started" in output
