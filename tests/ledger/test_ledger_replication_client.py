"""The HTTP side of pulling, against small real HTTP servers that misbehave: an answer over the
size cap, one that never ends, one that is not JSON, one that is JSON of the wrong shape. Each
is a ReplicationError naming the fault, never a hang or a crash."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time

import pytest

from apps.ledger.replication import HttpSource, ReplicationError, parse_binary_range, parse_range

KEY = b"k" * 32


class _Handler(http.server.BaseHTTPRequestHandler):
    answer: bytes = b"{}"
    declared: int | None = None
    delay: float = 0.0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(self.declared or len(self.answer)))
        self.end_headers()
        time.sleep(self.delay)
        with contextlib.suppress(OSError):
            self.wfile.write(self.answer)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve():
    servers = []

    def start(**behaviour) -> str:
        handler = type("Handler", (_Handler,), behaviour)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()


def test_an_answer_over_the_cap_is_refused_before_it_is_read_whole(serve):
    url = serve(answer=b"[" + b"0," * 10_000 + b"0]")
    source = HttpSource(url, max_bytes=1000, allow_private=True)

    with pytest.raises(ReplicationError) as caught:
        source.book(KEY)

    assert caught.value.fault == "malformed" and "over 1000" in caught.value.detail


def test_a_source_that_does_not_answer_in_time_is_unreachable(serve):
    url = serve(answer=b"{}", delay=3.0)
    source = HttpSource(url, timeout=0.5, allow_private=True)
    started = time.monotonic()

    with pytest.raises(ReplicationError) as caught:
        source.book(KEY)

    assert caught.value.fault == "unreachable"
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (b"<html>", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"key": 7}', "key must be hex"),
    ],
)
def test_an_answer_that_is_not_a_book_is_malformed(serve, answer, detail):
    source = HttpSource(serve(answer=answer), allow_private=True)

    with pytest.raises(ReplicationError) as caught:
        source.book(KEY)

    assert caught.value.fault == "malformed" and detail in caught.value.detail


def test_a_closed_port_is_unreachable():
    with pytest.raises(ReplicationError) as caught:
        HttpSource("http://127.0.0.1:9", timeout=1, allow_private=True).book(KEY)

    assert caught.value.fault == "unreachable"


HEAD = {"length": 1, "fork": 0, "tree_hash": "00" * 32, "signature": "00" * 68}
BAD_NODE_UPGRADE = {
    "start": 0,
    "length": 1,
    "nodes": [{"index": "a"}],
    "additionalNodes": [],
    "signature": "00" * 68,
}


def _range(**changes) -> dict:
    return {"key": KEY.hex(), "head": HEAD, "start": 0, "values": ["00"], "upgrade": None} | changes


@pytest.mark.parametrize(
    "answer",
    [
        _range(head={}),
        _range(values=[]),
        _range(start=-1),
        _range(values=["zz"]),
        _range(upgrade=[1]),
        _range(upgrade=BAD_NODE_UPGRADE),
        _range(start=True),
    ],
    ids=[
        "empty head",
        "no values",
        "negative start",
        "not hex",
        "upgrade list",
        "bad node",
        "bool",
    ],
)
def test_a_range_of_the_wrong_shape_is_malformed(answer):
    with pytest.raises(ReplicationError) as caught:
        parse_range(answer, key=KEY)

    assert caught.value.fault == "malformed"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"\x00\x00", "ends inside a length"),
        (b"\x00\x00\x00\x03abc", "not JSON"),
        (len(b"[" * 100_000).to_bytes(4, "big") + b"[" * 100_000, "not JSON"),
        (b"\x00\x00\x00\x02[]", "not a JSON object"),
        (b'\x00\x00\x00\x0b{"count":2}\x00\x00\x00\x01a', "ends inside a length"),
        (b'\x00\x00\x00\x0b{"count":1}\x00\x00\x00\x05ab', "ends inside a value"),
        (b'\x00\x00\x00\x0b{"count":1}\x00\x00\x00\x01ab', "bytes after the last value"),
        (b'\x00\x00\x00\x0f{"count":99999}', "1 to 2000 values"),
    ],
)
def test_a_binary_range_that_breaks_its_framing_is_malformed(body, detail):
    with pytest.raises(ReplicationError) as caught:
        parse_binary_range(body, key=KEY)

    assert caught.value.fault == "malformed" and detail in caught.value.detail


@pytest.mark.django_db
def test_the_json_and_binary_ranges_carry_the_same_verifiable_batch(client):
    from apps.ledger.hypercore.tree import TreeBatch
    from apps.ledger.replication import parse_range, verify_batch
    from apps.ledger.services import log_append, log_for_book

    log = log_for_book(book="projects")
    for n in range(5):
        log_append(log=log, blocks=[f'{{"n": {n}, "i": {i}}}'.encode() for i in range(20)])
    url = f"/api/books/{bytes(log.key).hex()}/replication/?start=0&end=30"

    as_json = parse_range(client.get(url).json(), key=bytes(log.key))
    binary = client.get(url + "&encoding=binary")
    as_binary = parse_binary_range(binary.content, key=bytes(log.key))

    assert binary["Content-Type"] == "application/vnd.growr.replication-range"
    assert as_json == as_binary
    batch = verify_batch(log.core_keys, TreeBatch([], 0, 0), as_binary, fork=0)
    assert batch.length == 30 and as_binary.upgrade.length == 70


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://10.1.2.3", "http://[::1]:80"])
def test_a_source_on_a_private_address_is_refused_unless_allowed(url):
    with pytest.raises(ReplicationError) as caught:
        HttpSource(url, allow_private=False).book(KEY)

    assert caught.value.fault == "unreachable" and "not a public address" in caught.value.detail


@pytest.mark.django_db
def test_production_settings_refuse_private_sources_and_local_ones_allow_them(settings):
    from apps.ledger.follow_services import _http_source

    settings.GROWR_FOLLOW_PRIVATE_SOURCES = False
    with pytest.raises(ReplicationError, match="not a public address"):
        _http_source("http://127.0.0.1:9").book(KEY)
    settings.GROWR_FOLLOW_PRIVATE_SOURCES = True
    with pytest.raises(ReplicationError, match=r"Connection ?[Rr]efused"):
        _http_source("http://127.0.0.1:9").book(KEY)
