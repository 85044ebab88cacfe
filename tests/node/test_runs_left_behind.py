"""A test run killed mid-way leaves the nodes it started running; the next run stops them before
its first test, and leaves alone the processes of a run still going."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.processes import OWNER, stop_what_ended_runs_left


def _node_stand_in(owner: int) -> subprocess.Popen:
    """A process that runs until killed or until the test closes its stdin."""
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
        env={**os.environ, OWNER: str(owner)},
    )


def test_a_process_of_an_ended_run_is_stopped_and_one_of_a_live_run_is_not():
    ended_run = subprocess.Popen([sys.executable, "-c", "pass"])
    ended_run.wait()
    left_behind = _node_stand_in(owner=ended_run.pid)
    still_running = _node_stand_in(owner=os.getpid())
    try:
        stopped = stop_what_ended_runs_left()

        assert left_behind.pid in stopped
        assert left_behind.wait(timeout=10) == -9
        assert still_running.pid not in stopped
        assert still_running.poll() is None
    finally:
        for process in (left_behind, still_running):
            process.stdin.close()
            process.kill()
            process.wait()
