"""Benchmark: the ledger's signed logs in PostgreSQL beside the real hypercore@11.37.1.

Appends 200-byte JSON entries in batches of 1000 and 100 (BENCH_TOTAL entries each) and one by
one (BENCH_SINGLE appends), each batch a durable commit (no fsync or synchronous_commit
shortcuts), through one writer lease per log as the outbox flusher holds it; then
reads the 1000-batch log back 1000 blocks at a time with the proofs a reader needs (what
/api/books/<key>/blocks/ serves, JSON included). The reference runs in the same process tree on
the same machine: bench/hypercore_reference/reference.mjs (npm install there first; `make bench`
does). Prints each figure and its ratio to the reference.

Uses DATABASE_URL if it names PostgreSQL, else postgres://postgres@127.0.0.1:5432/growr_bench
(created if missing, its ledger tables emptied).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from reference import run_reference

ROOT = Path(__file__).resolve().parents[1]
TOTAL = int(os.environ.get("BENCH_TOTAL", "100000"))
SINGLE = int(os.environ.get("BENCH_SINGLE", "2000"))
ENTRY = json.dumps(
    {
        "type": "growr/payment",
        "v": 1,
        "key": "payment:000000",
        "value": {"amount": "12.50", "currency": "KES", "pad": "x" * 96},
    }
)[:200].encode()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else "postgres://postgres@127.0.0.1:5432/growr_bench"


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup_django() -> None:
    url = _database_url()
    _ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "growr_site.settings.local")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE ledger_block, ledger_signedhead, ledger_bookentry, "
            "ledger_bookkey, ledger_outboxentry, ledger_log CASCADE"
        )


def _reference() -> dict:
    return run_reference("reference.mjs", BENCH_TOTAL=str(TOTAL), BENCH_SINGLE=str(SINGLE))


def _append_rate(book: str, batch_size: int, total: int) -> float:
    """Appends through one writer lease, as the outbox flusher does; each append commits."""
    from apps.ledger.services import log_for_book, log_writer

    log = log_for_book(book=book)
    batch = [ENTRY] * batch_size
    started = time.perf_counter()
    with log_writer(log=log) as writer:
        for _ in range(0, total, batch_size):
            writer.append(batch)
    return total / (time.perf_counter() - started)


def _read_rate(book: str) -> float:
    from apps.ledger.api import proof_json
    from apps.ledger.models import Log
    from apps.ledger.selectors import log_range

    log = Log.objects.get(book=book)
    started = time.perf_counter()
    for start in range(0, log.length, 1000):
        answer = log_range(log=log, start=start, end=min(start + 1000, log.length))
        json.dumps([proof_json(p) for p in answer.blocks])
    return log.length / (time.perf_counter() - started)


def main() -> None:
    _setup_django()
    reference = _reference()
    ours = {
        "append_batch_1000": _append_rate("projects", 1000, TOTAL),
        "append_batch_100": _append_rate("loans", 100, TOTAL),
        "append_batch_1": _append_rate("payments", 1, SINGLE),
    }
    ours["read_with_proofs"] = _read_rate("projects")
    print(f"entries of {len(ENTRY)} bytes; {TOTAL} per batched run, {SINGLE} single appends")
    print(f"{'figure':<22}{'growr (blocks/s)':>18}{'hypercore (blocks/s)':>22}{'ratio':>8}")
    pairs = [
        ("append_batch_1000", "append_batch_1000"),
        ("append_batch_100", "append_batch_100"),
        ("append_batch_1", "append_batch_1"),
        ("read_with_proofs", "replicated_read"),
    ]
    for mine, theirs in pairs:
        ratio = ours[mine] / reference[theirs]
        print(f"{mine:<22}{ours[mine]:>18,.0f}{reference[theirs]:>22,.0f}{ratio:>8.2f}")
    print("reference: hypercore@11.37.1 on local storage; read = replication to a second core")


if __name__ == "__main__":
    main()
