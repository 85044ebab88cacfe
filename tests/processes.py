"""Helpers for tests that start the node's real processes against the test database."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
# The test process a process was started under: every process a test starts inherits it.
OWNER = "GROWR_TEST_OWNER"


def database_url_of_test_database() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def processes_with_marker(marker: str) -> list[int]:
    """Every live process whose environment holds MARKER (children included)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def stop_what_ended_runs_left() -> list[int]:
    """Stop every process started under a test process that is gone (a run that was killed), and
    say which: its nodes' workers would take the next run's tasks from the same Redis databases.
    A run still going has a live owner, and keeps its processes."""
    owned_by = re.compile(rb"(?:^|\0)" + OWNER.encode() + rb"=(\d+)\0")
    stopped = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            owner = owned_by.search((proc / "environ").read_bytes())
            if owner and not Path(f"/proc/{int(owner[1])}").exists():
                os.kill(int(proc.name), signal.SIGKILL)
                stopped.append(int(proc.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return stopped
