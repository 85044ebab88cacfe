"""Browser tests: Playwright for Python driving Debian's Chromium against the node's real ASGI
web process (uvicorn, started by `manage.py runnode --services web`) on the test database.

Without Chromium they skip locally with a message; in CI (CI=true) a missing browser fails.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = _chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message}: browser tests must run in CI")
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def browser(chromium_executable):
    """One Chromium per test module, closed before other modules' async tests run.

    Playwright's sync API keeps an event loop running in the test thread, which makes Django's
    ORM refuse to run there; the tests touch the ORM only to create their personas, so the
    guard is lifted for the browser's lifetime alone and never leaks into other tests.
    """
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True
            )
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def csp_violations(page) -> list[str]:
    """Collect what the Content-Security-Policy blocks on PAGE: Chromium says so on the
    console ("Refused to load/execute/apply …"), and nowhere else the test would see."""
    refused: list[str] = []

    def heard(message) -> None:
        if "Refused to" in message.text or "Content Security Policy" in message.text:
            refused.append(f"{page.url}: {message.text}")

    page.on("console", heard)
    return refused


@pytest.fixture
def page(browser):
    """A fresh browser tab; a test whose pages trip the CSP fails, whatever else it checks."""
    context = browser.new_context()
    page = context.new_page()
    refused = csp_violations(page)
    yield page
    context.close()
    assert refused == [], "the Content-Security-Policy blocked:\n" + "\n".join(refused)


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, deadline_seconds: float = 60) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"web process exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail("web process did not start listening")


@pytest.fixture(scope="session")
def node_url(django_db_setup, django_db_blocker, tmp_path_factory) -> str:
    """The node's real web process on the test database, for the whole browser session."""
    from django.conf import settings

    port = _free_port()
    with django_db_blocker.unblock():
        database_url = _database_url()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "growr_site.settings.test",
        "GROWR_VAR_DIR": str(tmp_path_factory.mktemp("node-var")),
        # One node, one master key: keys the tests seal (a custodial wallet made while issuing
        # a credential) must open in the web process, as they do across a node's processes.
        "GROWR_MASTER_KEY": base64.urlsafe_b64encode(settings.GROWR_MASTER_KEY).decode(),
    }
    log = (tmp_path_factory.getbasetemp() / "e2e-web.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runnode", "--services", "web", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def screenshot(page, request):
    def take(step: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{step}.png"), full_page=True)

    return take
