"""Benchmark: following a book over loopback with full verification, beside Hypercore.

A writer node (its own PostgreSQL database, serving its read API with `runnode --services web`)
holds a projects book of BENCH_REPLICATE_BLOCKS entries of BENCH_REPLICATE_BLOCK_BYTES (defaults
100,000 and 1 KiB). This process is the follower, on a second database: it follows the book and
pulls it whole through the replication range of the read API, verifying every batch against
the writer's signed head and storing it (blocks, tree nodes, index) in one transaction each,
exactly as the Celery task does. The reference, in the same run on the same machine:
bench/hypercore_reference/replicate.mjs, two hypercore@11.37.1 cores replicating the same
number and size of blocks over a TCP loopback connection (every block verified and stored).
Prints both rates and their ratio; the goal is at least 2.

Uses BENCH_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432) with the
databases growr_bench_writer and growr_bench_follower (created if missing, their ledger tables
emptied).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from reference import run_reference

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = int(os.environ.get("BENCH_REPLICATE_BLOCKS", "100000"))
BLOCK_BYTES = int(os.environ.get("BENCH_REPLICATE_BLOCK_BYTES", "1024"))
BATCH = int(os.environ.get("BENCH_REPLICATE_BATCH", "2000"))
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
WRITER_DB = f"{SERVER}/growr_bench_writer"
FOLLOWER_DB = f"{SERVER}/growr_bench_follower"

WRITE = f"""
import json
from apps.ledger.services import log_for_book, log_writer
log = log_for_book(book="projects")
def entry(n, pad=""):
    value = {{"title": f"Project {{n}}", "currency": "KES", "pad": pad}}
    return json.dumps({{"type": "growr/project", "v": 1, "key": f"project:{{n}}", "value": value}})
def padded(n):
    return entry(n, "x" * ({BLOCK_BYTES} - len(entry(n)))).encode()
with log_writer(log=log) as writer:
    for first in range(0, {BLOCKS}, 1000):
        writer.append([padded(n) for n in range(first, min(first + 1000, {BLOCKS}))])
print(bytes(log.key).hex())
"""


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="growr_site.settings.local")
    return env


def _prepare(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=_env(database_url), check=True)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE ledger_block, ledger_signedhead, ledger_bookentry, ledger_bookkey, "
            "ledger_outboxentry, ledger_replicationevent, ledger_forkevidence, "
            "ledger_followsource, ledger_follow, ledger_log"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_writer() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    web = subprocess.Popen(
        [sys.executable, "manage.py", "runnode", "--services", "web", "--port", str(port)],
        cwd=ROOT,
        env=_env(WRITER_DB),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return web, f"http://127.0.0.1:{port}"
        time.sleep(0.2)
    web.kill()
    raise SystemExit("the writer's web process did not start")


def _follow(key: str, url: str) -> tuple[float, float]:
    """(blocks/s of the pull: fetched, verified, stored with the head; blocks/s of indexing the
    entries afterwards, which the node does in a task of its own)."""
    os.environ.update(_env(FOLLOWER_DB))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from apps.ledger.follow_services import follow_index, follow_pull, follow_start
    from apps.ledger.models import Log

    follow = follow_start(key=bytes.fromhex(key), kind="projects", sources=[url])
    started = time.perf_counter()
    result = follow_pull(follow_id=follow.pk, batch_blocks=BATCH)
    seconds = time.perf_counter() - started
    if result.length != BLOCKS or result.problem:
        raise SystemExit(f"the pull stopped at {result.length}: {result.problem}")
    assert Log.objects.get(pk=follow.log_id).length == BLOCKS
    started = time.perf_counter()
    assert follow_index(follow_id=follow.pk) == BLOCKS
    return BLOCKS / seconds, BLOCKS / (time.perf_counter() - started)


def _reference() -> dict:
    return run_reference(
        "replicate.mjs",
        BENCH_REPLICATE_BLOCKS=str(BLOCKS),
        BENCH_REPLICATE_BLOCK_BYTES=str(BLOCK_BYTES),
    )


def main() -> None:
    for database_url in (WRITER_DB, FOLLOWER_DB):
        _prepare(database_url)
    written = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", WRITE],
        cwd=ROOT,
        env=_env(WRITER_DB),
        check=True,
        capture_output=True,
        text=True,
    )
    key = written.stdout.strip().splitlines()[-1]
    web, url = _serve_writer()
    try:
        ours, indexing = _follow(key, url)
    finally:
        web.send_signal(signal.SIGINT)
        web.wait(timeout=30)
    reference = _reference()
    theirs = reference["blocks_per_second"]
    print(f"{BLOCKS} blocks of {BLOCK_BYTES} bytes over loopback, every block verified")
    both = 1 / (1 / ours + 1 / indexing)
    print(f"{'figure':<36}{'blocks/s':>12}{'ratio':>8}")
    print(f"{'growr follow (verify + store)':<36}{ours:>12,.0f}{ours / theirs:>8.2f}")
    print(f"{'growr index of the entries':<36}{indexing:>12,.0f}")
    print(f"{'growr follow and index, one after':<36}{both:>12,.0f}{both / theirs:>8.2f}")
    print(f"{'hypercore replicate (TCP)':<36}{theirs:>12,.0f}{1:>8.2f}")
    print(f"goal: follow at least 2.0 x; reference hypercore@{reference['hypercore']}")


if __name__ == "__main__":
    main()
