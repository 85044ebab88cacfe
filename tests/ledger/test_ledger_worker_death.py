"""A worker killed (SIGKILL) between a committed change and its append loses no entry.

Real processes: a publisher commits a payment, a Celery worker takes its flush task and is
killed while the flush waits for the book's writer lease, which the test holds; then the node's
worker and beat, started again, append the entry exactly once.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection, transaction

from apps.ledger import storage
from apps.ledger.models import Block, Book, OutboxEntry
from apps.ledger.selectors import book_entry, log_verify
from apps.ledger.services import log_for_book, log_writer
from tests.processes import ROOT, database_url_of_test_database, processes_with_marker

pytestmark = [
    pytest.mark.processes,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql'",
        reason="holding one book's writer while a worker runs needs PostgreSQL's per-log lease "
        "(SQLite's write lock would stop the worker's start-up writes too)",
    ),
]
DEADLINE_SECONDS = 90

PUBLISH = """
from django.db import transaction
from apps.ledger.services import book_publish
with transaction.atomic():
    book_publish(book="payments", entry_type="growr/payment", version=1, key="payment:1", value={
        "payment": "00000000-0000-4000-8000-000000000001",
        "loan": "4b1f3b8e-1c1a-4d7e-9a56-2f3c1d9e8a01",
        "kind": "repayment", "amount": "12.50", "currency": "KES", "on": "2026-11-25",
    })
"""


@pytest.fixture
def node_env(tmp_path):
    marker = uuid.uuid4().hex
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_database(),
        "DJANGO_SETTINGS_MODULE": "growr_site.settings.local",
        "GROWR_VAR_DIR": str(tmp_path),
        # The processes sign the logs this test's node created, under the same master key.
        "GROWR_MASTER_KEY": base64.urlsafe_b64encode(settings.GROWR_MASTER_KEY).decode(),
        "GROWR_OUTBOX_SWEEP_INTERVAL": "1",
        "CELERY_WORKER_CONCURRENCY": "1",
        "GROWR_TEST_RUN": marker,
    }
    yield env
    for pid in processes_with_marker(f"GROWR_TEST_RUN={marker}"):
        os.kill(pid, signal.SIGKILL)


def _start(env, tmp_path, name: str, command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / f"{name}.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kill reaches its children too
    )


def _until(condition, what: str, tmp_path) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(p.read_text()[-2000:] for p in tmp_path.glob("*.log"))
            pytest.fail(f"{what} did not happen within {DEADLINE_SECONDS}s\n{logs}")
        time.sleep(0.2)


def _flush_waits_for_the_lease(log_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND classid = %s AND objid = %s",
            [storage.WRITER_LEASE_NAMESPACE, log_id],
        )
        return cursor.fetchone()[0] > 0


def test_a_worker_killed_between_the_commit_and_the_append_loses_no_entry(node_env, tmp_path):
    log = log_for_book(book=Book.PAYMENTS)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PUBLISH],
        cwd=ROOT,
        env=node_env,
        check=True,
        timeout=120,
    )
    assert OutboxEntry.objects.filter(book=Book.PAYMENTS, block_index__isnull=True).count() == 1

    with transaction.atomic(), log_writer(log=log):
        worker = _start(
            node_env,
            tmp_path,
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "celery_worker",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--without-gossip",
                "--without-mingle",
            ],
        )
        _until(lambda: _flush_waits_for_the_lease(log.pk), "the worker's flush", tmp_path)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)

    log.refresh_from_db()
    assert log.length == 0, "the killed worker appended nothing"
    assert OutboxEntry.objects.filter(book=Book.PAYMENTS, block_index__isnull=True).count() == 1

    node = _start(
        node_env,
        tmp_path,
        "node",
        [sys.executable, "manage.py", "runnode", "--services", "worker,beat"],
    )
    try:
        _until(
            lambda: not OutboxEntry.objects.filter(block_index__isnull=True).exists(),
            "the sweep's append",
            tmp_path,
        )
    finally:
        os.killpg(node.pid, signal.SIGINT)
        node.wait(timeout=60)

    log.refresh_from_db()
    assert Block.objects.filter(log=log).count() == 1, "appended exactly once"
    index, entry = book_entry(log=log, key="payment:1")
    assert (index, entry["value"]["amount"]) == (0, "12.50")
    assert log_verify(log=log).ok
