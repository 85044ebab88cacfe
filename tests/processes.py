"""Helpers for tests that start the node's real processes against the test database."""

from __future__ import annotations

from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


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
