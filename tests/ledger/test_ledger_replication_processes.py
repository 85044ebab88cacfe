"""Three real nodes on loopback, each with its own database: Amani's node publishes projects;
Baraka's node follows them from Amani's; Chen's node follows them from Baraka's while Amani's
is down. A tampering proxy in front of a node is caught with nothing stored, and a follower
killed in the middle of a pull resumes without a missing, corrupt or duplicate block."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from tests.nodes import HOST, Node
from tests.processes import ROOT

pytestmark = pytest.mark.processes
PROJECTS = 300

PUBLISH = f"""
import json
from apps.ledger.services import log_append, log_for_book
log = log_for_book(book="projects")
entries = [
    json.dumps({{"type": "growr/project", "v": 1, "key": f"project:{{n}}",
                "value": {{"title": f"Project {{n}}", "amount": "1000.00"}}}}).encode()
    for n in range({PROJECTS})
]
for first in range(0, {PROJECTS}, 50):
    log_append(log=log, blocks=entries[first:first + 50])
print(bytes(log.key).hex())
"""


# What the investor portal's "Projects of the network" lists first on a node.
CATALOGUE = """
from apps.funding.selectors import network_catalogue
projects, total = network_catalogue(page=1)
print(total, projects[0].project.value["title"])
"""


@pytest.fixture
def amani(network) -> tuple[Node, str]:
    """Amani's node, serving its projects book; and the book's key."""
    node = network("amani")
    published = node.manage("shell", "-c", PUBLISH)
    assert published.returncode == 0, published.stderr
    node.serve()
    return node, published.stdout.strip().splitlines()[-1]


def test_a_book_reaches_a_third_node_through_a_second_while_its_writer_is_down(amani, network):
    amani_node, key = amani
    baraka = network("baraka")

    pulled = baraka.manage("follow", key, amani_node.url, "--pull", "--batch", "128")

    assert pulled.returncode == 0, pulled.stderr
    assert f"pulled {PROJECTS} block(s)" in pulled.stdout
    written = amani_node.book(key)
    assert baraka.book(key) == written
    catalogue = baraka.manage("shell", "-v", "0", "-c", CATALOGUE)
    assert catalogue.stdout.split() == [str(PROJECTS), "Project", str(PROJECTS - 1)]
    baraka.serve()
    amani_node.stop()

    chen = network("chen")
    relayed = chen.manage("follow", key, baraka.url, "--pull")

    assert relayed.returncode == 0, relayed.stderr
    assert chen.book(key) == written
    [(entries,)] = chen.query("SELECT count(*) FROM ledger_bookkey")
    assert entries == PROJECTS


class TamperingProxy:
    """Forwards HTTP to a node, flipping one bit in the first block of replication answers."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server = socket.create_server((HOST, 0))
        self.port = self.server.getsockname()[1]
        self.tampered = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection((HOST, self.target_port)) as upstream:
            request = client.recv(65536)
            # One request per connection, so the answer can be read to its end.
            request = request.replace(b"Connection: keep-alive", b"Connection: close")
            if b"Connection:" not in request:
                request = request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
            upstream.sendall(request)
            answer = b""
            while chunk := upstream.recv(65536):
                answer += chunk
            if b"/replication/" in request.split(b"\r\n", 1)[0]:
                answer = _flip_a_byte_of_the_first_block(answer)
                self.tampered += 1
            client.sendall(answer)

    def close(self) -> None:
        self.server.close()


def _flip_a_byte_of_the_first_block(answer: bytes) -> bytes:
    """In a binary replication range (docs/protocol.md): u32 header length, the header, then
    u32 length and bytes per block."""
    body = answer.index(b"\r\n\r\n") + 4
    header_length = int.from_bytes(answer[body : body + 4], "big")
    target = body + 4 + header_length + 4 + 40
    return answer[:target] + bytes([answer[target] ^ 0x01]) + answer[target + 1 :]


def test_a_tampering_proxy_is_caught_and_nothing_is_stored(amani, network):
    amani_node, key = amani
    proxy = TamperingProxy(amani_node.port)
    dana = network("dana")
    try:
        pulled = dana.manage("follow", key, f"http://{HOST}:{proxy.port}", "--pull")
    finally:
        proxy.close()

    assert proxy.tampered >= 1
    assert pulled.returncode != 0
    assert "nothing pulled" in pulled.stderr
    assert dana.book(key)[:2] == (0, 0)
    [(fault,)] = dana.query("SELECT fault FROM ledger_replicationevent")
    assert fault in {"bad_proof", "malformed"}


def test_a_follower_killed_mid_pull_resumes_without_a_duplicate_or_missing_block(amani, network):
    amani_node, key = amani
    eli = network("eli")
    pull = subprocess.Popen(
        [sys.executable, "manage.py", "follow", key, amani_node.url, "--pull", "--batch", "7"],
        cwd=ROOT,
        env=eli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stored() -> int:
        try:
            return eli.query("SELECT count(*) FROM ledger_block")[0][0]
        except sqlite3.OperationalError:  # locked by the pull's write
            return 0

    deadline = time.monotonic() + 60
    while stored() < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    pull.kill()
    pull.wait()
    cut_at = stored()
    assert 0 < cut_at < PROJECTS

    resumed = eli.manage("follow", key, amani_node.url, "--pull")

    assert resumed.returncode == 0, resumed.stderr
    assert eli.book(key) == amani_node.book(key)
    [(distinct,)] = eli.query('SELECT count(DISTINCT "index") FROM ledger_block')
    assert distinct == PROJECTS


def test_a_watching_follower_has_a_new_append_within_seconds(amani, network):
    amani_node, key = amani
    fay = network("fay")
    watch = subprocess.Popen(
        [sys.executable, "manage.py", "follow", key, amani_node.url, "--watch"],
        cwd=ROOT,
        env=fay.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _until(lambda: _stored(fay, key) == PROJECTS, seconds=60)
        appended = amani_node.manage("shell", "-c", APPEND_FIVE)
        assert appended.returncode == 0, appended.stderr
        appended_at = time.monotonic()

        _until(lambda: _stored(fay, key) == PROJECTS + 5, seconds=10)

        print(f"the append reached the follower in {time.monotonic() - appended_at:.2f} s")
        assert fay.book(key) == amani_node.book(key)
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=10)


APPEND_FIVE = """
from apps.ledger.services import log_append, log_for_book
late = b'{"type":"x","v":1,"key":"late","value":1}'
log_append(log=log_for_book(book="projects"), blocks=[late] * 5)
"""


def _stored(node: Node, key: str) -> int:
    try:
        return node.book(key)[0]
    except (sqlite3.OperationalError, ValueError):  # locked by a write, or not followed yet
        return -1


def _until(condition, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.1)


def test_a_sparse_follower_keeps_the_newest_blocks_verified_one_by_one(amani, network):
    amani_node, key = amani
    gil = network("gil")

    pulled = gil.manage("follow", key, amani_node.url, "--latest", "50", "--pull")

    assert pulled.returncode == 0, pulled.stderr
    length, stored, tree_hash = gil.book(key)
    assert (length, stored, tree_hash) == (PROJECTS, 50, amani_node.book(key)[2])
    [(lowest,)] = gil.query('SELECT min("index") FROM ledger_block')
    assert lowest == PROJECTS - 50


def test_a_range_follower_keeps_only_its_blocks(amani, network):
    amani_node, key = amani
    hana = network("hana")

    pulled = hana.manage("follow", key, amani_node.url, "--range", "100:150", "--pull")
    refused = hana.manage("follow", key, amani_node.url, "--range", "oops")

    assert pulled.returncode == 0, pulled.stderr
    [(lowest, highest, count)] = hana.query(
        'SELECT min("index"), max("index"), count(*) FROM ledger_block'
    )
    assert (lowest, highest, count) == (100, 149, 50)
    assert hana.book(key)[0] == PROJECTS  # the signed head it verified the range against
    assert refused.returncode != 0 and "--range START:END" in refused.stderr


def test_an_investor_node_finds_an_originators_projects_through_gossip_and_follows_them(
    amani, network
):
    amani_node, key = amani
    amani_node.serve("gossip")
    ines = network(
        "ines-node",
        GROWR_NODE_ROLE="investor",
        GROWR_GOSSIP_SEEDS=f"{HOST}:{amani_node.gossip_port}",
    )

    ines.serve("worker,gossip")

    def followed_and_indexed() -> bool:
        try:
            [(entries,)] = ines.query(
                "SELECT count(*) FROM ledger_bookkey JOIN ledger_log ON log_id = ledger_log.id "
                "WHERE ledger_log.key = ?",
                [bytes.fromhex(key)],
            )
            return entries == PROJECTS and ines.book(key) == amani_node.book(key)
        except (sqlite3.OperationalError, ValueError):  # busy, or not followed yet
            return False

    deadline = time.monotonic() + 90
    while not followed_and_indexed():
        if time.monotonic() > deadline:
            pytest.fail(f"ines's node did not follow amani's projects\n{ines.logs()}")
        time.sleep(0.5)
    [(source,)] = ines.query("SELECT url FROM ledger_followsource")
    assert source == amani_node.url
