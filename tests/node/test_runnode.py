"""The run command starts web, worker, beat and the gossip agent; /health/ turns green; Ctrl-C
stops them all.

These start the node's real processes, as a newcomer's `make run` and a deployment do.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.processes import ROOT, database_url_of_test_database, processes_with_marker

STARTUP_DEADLINE_SECONDS = 120
pytestmark = pytest.mark.processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_until_healthy(node: subprocess.Popen, port: int) -> dict:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    last: object = None
    while time.monotonic() < deadline:
        if node.poll() is not None:
            pytest.fail(f"runnode exited early with {node.returncode}")
        try:
            status, body = _health(port)
        except OSError as error:  # not listening yet
            last = error
        else:
            last = body
            if status == 200:
                return body
        time.sleep(0.5)
    pytest.fail(f"node not healthy within {STARTUP_DEADLINE_SECONDS}s; last answer: {last}")


def _run_node_and_stop_it(env: dict[str, str], tmp_path: Path) -> dict:
    port = _free_port()
    marker = f"GROWR_TEST_RUN={uuid.uuid4().hex}"
    env = {
        **env,
        marker.split("=")[0]: marker.split("=")[1],
        "GROWR_GOSSIP_BIND": f"127.0.0.1:{_free_port()}",
    }
    log = (tmp_path / "runnode.log").open("w")
    node = subprocess.Popen(
        [sys.executable, "manage.py", "runnode", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        body = _wait_until_healthy(node, port)
    finally:
        node.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            node.wait(timeout=30)
        finally:
            if node.poll() is None:
                node.kill()
    deadline = time.monotonic() + 10
    while processes_with_marker(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    output = (tmp_path / "runnode.log").read_text()
    assert processes_with_marker(marker) == [], output[-3000:]
    assert f"listening on {env['GROWR_GOSSIP_BIND']}" in output, output[-3000:]
    return body


def test_the_embedded_default_runs_with_no_services_configured(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY"}
    }
    env.update(DJANGO_SETTINGS_MODULE="growr_site.settings.local", GROWR_VAR_DIR=str(tmp_path))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )

    body = _run_node_and_stop_it(env, tmp_path)

    assert body["components"]["database"]["detail"] == "sqlite"
    assert body["components"]["broker"]["detail"] == "filesystem"
    assert body["components"]["channel_layer"]["detail"] == "InMemoryChannelLayer"


@pytest.mark.django_db(transaction=True)
def test_the_configured_services_run_the_node(tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url_of_test_database()}
    env.update(DJANGO_SETTINGS_MODULE="growr_site.settings.local", GROWR_VAR_DIR=str(tmp_path))

    body = _run_node_and_stop_it(env, tmp_path)

    expected_vendor = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    assert body["components"]["database"]["detail"] == expected_vendor
    if os.environ.get("REDIS_URL"):
        assert body["components"]["channel_layer"]["detail"] == "RedisChannelLayer"


def test_when_one_process_dies_the_whole_node_stops(tmp_path):
    env = {
        **os.environ,
        "CELERY_BROKER_URL": "no-such-transport://",
        "GROWR_VAR_DIR": str(tmp_path),
        "GROWR_GOSSIP_BIND": f"127.0.0.1:{_free_port()}",
    }
    env["DJANGO_SETTINGS_MODULE"] = "growr_site.settings.local"
    marker = f"{uuid.uuid4().hex}"
    env["GROWR_TEST_RUN"] = marker

    result = subprocess.run(
        [sys.executable, "manage.py", "runnode", "--port", str(_free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "No such transport" in result.stdout
    assert "sending SIGTERM to web" in result.stdout
    assert processes_with_marker(f"GROWR_TEST_RUN={marker}") == []
