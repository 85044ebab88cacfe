"""The node's web server: uvicorn, with every worker process on a listening socket of its own.

uvicorn's --workers share one listening socket, and the worker that wakes first accepts every
connection waiting. Kept-alive connections stay where they landed: wrk's 50 split 38 to 12 as
often as 25 to 25, and the busier worker's requests waited for three times as many before them
(docs/benchmarks.md). Here each worker listens on a socket of its own bound with SO_REUSEPORT,
and the kernel spreads new connections over the listening sockets by a hash of their addresses.

The parent holds the port on a socket bound the same way but not listening: it fails at once
where the port is taken, and takes no connection itself (only listening sockets are offered
one). It starts the workers, starts a worker again when one dies, and stops them all on SIGINT
or SIGTERM, each as uvicorn does (its requests finish, for GRACEFUL_SECONDS at most). Killed
outright, it cannot: on Linux the system then sends its workers SIGTERM itself.

With one worker, or where the system has no SO_REUSEPORT, this is plain uvicorn.

Plain Python on uvicorn: `python -m apps.node.web_server APP --host H --port P --workers N`.
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import uvicorn

# A worker that dies sooner than this after it started did not get going (a broken import, a
# missing setting): started again, it would die again.
STARTUP_SECONDS = 5.0
STARTUP_FAILURES_TO_STOP = 3
spawn = multiprocessing.get_context("spawn")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Options:
    app: str
    host: str
    port: int
    workers: int
    graceful_seconds: int

    def uvicorn_config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            proxy_headers=True,
            lifespan="off",
            timeout_graceful_shutdown=self.graceful_seconds,
        )


def reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve_worker(options: Options, parent: int) -> None:
    """One worker process: uvicorn on a listening socket of its own, until PARENT stops it or
    dies (then the system sends it SIGTERM, where it can: Linux)."""
    _stop_with_parent(parent)
    sock = reuse_port_socket(options.host, options.port)
    uvicorn.Server(options.uvicorn_config()).run(sockets=[sock])


def _stop_with_parent(parent: int) -> None:
    """A parent killed outright (SIGKILL, the OOM killer) cannot stop its workers, and they would
    serve on, holding the port, with nobody to start them again or stop them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent stops them, while it lives
        return
    if os.getppid() != parent:  # it died before this was asked: nobody will send the signal
        os.kill(os.getpid(), signal.SIGTERM)


class Workers:
    """The worker processes of one port, kept at OPTIONS.workers until stop()."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.started_at: dict[int, float] = {}
        self.startup_failures = 0
        self.stopping = threading.Event()

    def start_one(self) -> None:
        process = spawn.Process(
            target=serve_worker, args=(self.options, os.getpid()), name="web worker"
        )
        process.start()
        self.processes.append(process)
        self.started_at[process.pid] = time.monotonic()

    def run(self) -> int:
        """Until stop(), or until workers keep dying as they start (then 1)."""
        for _ in range(self.options.workers):
            self.start_one()
        while not self.stopping.is_set():
            sentinels = [process.sentinel for process in self.processes]
            multiprocessing.connection.wait(sentinels, timeout=0.5)
            if not self.stopping.is_set() and not self.replace_the_dead():
                self.stop()
                return 1
        self.stop()
        return 0

    def replace_the_dead(self) -> bool:
        """Starts a worker for every one that died; False where they die as they start."""
        for process in [process for process in self.processes if not process.is_alive()]:
            self.processes.remove(process)
            lived = time.monotonic() - self.started_at.pop(process.pid)
            self.startup_failures = self.startup_failures + 1 if lived < STARTUP_SECONDS else 0
            if self.startup_failures >= STARTUP_FAILURES_TO_STOP:
                print(
                    f"web: {self.startup_failures} workers died as they started "
                    f"(the last with exit code {process.exitcode}); stopping",
                    file=sys.stderr,
                )
                return False
            print(f"web: worker {process.pid} died (exit code {process.exitcode})", file=sys.stderr)
            self.start_one()
        return True

    def stop(self) -> None:
        self.stopping.set()
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        deadline = time.monotonic() + self.options.graceful_seconds + 5
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def serve(options: Options) -> int:
    if options.workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(
            options.app,
            host=options.host,
            port=options.port,
            workers=options.workers,
            proxy_headers=True,
            lifespan="off",
            timeout_graceful_shutdown=options.graceful_seconds,
        )
        return 0
    try:
        held = reuse_port_socket(options.host, options.port)
    except OSError as exc:
        print(f"web: cannot listen on {options.host}:{options.port}: {exc}", file=sys.stderr)
        return 1
    workers = Workers(options)
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: workers.stopping.set())
    print(
        f"web: {options.workers} workers on http://{options.host}:{options.port}/, "
        "each on a listening socket of its own",
        file=sys.stderr,
    )
    with held:
        return workers.run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.node.web_server")
    parser.add_argument("app", help="the ASGI application, as module:attribute")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--graceful-seconds", type=int, default=10)
    arguments = parser.parse_args(argv)
    if arguments.workers < 1:
        parser.error("--workers must be 1 or more")
    return serve(Options(**vars(arguments)))


if __name__ == "__main__":
    sys.exit(main())
