"""Anyone, signed in or not, reads the books and verifies what they get."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.ledger.hypercore.errors import HypercoreError
from apps.ledger.hypercore.proofs import verify_block_path, verify_proof
from apps.ledger.hypercore.vectors import parse_proof
from apps.ledger.models import Block, Book
from apps.ledger.services import log_for_book
from tests.ledger.loan_entries import publish_loan_version
from tests.openapi import openapi_validator

pytestmark = pytest.mark.django_db(transaction=True)
LOAN = "4b1f3b8e-1c1a-4d7e-9a56-2f3c1d9e8a01"


@pytest.fixture
def loans_book():
    for n, status in enumerate(["submitted", "approved", "active"]):
        publish_loan_version(loan=LOAN, status=status, version=n + 1)
    return log_for_book(book=Book.LOANS)


def _verified_blocks(client, log, start, end):
    body = client.get(f"/api/books/{bytes(log.key).hex()}/blocks/?start={start}&end={end}").json()
    verified = verify_proof(parse_proof(body["upgrade"]), log.core_keys)
    roots = {r.index: r for r in verified.roots}
    values = []
    for item in body["blocks"]:
        proof = parse_proof(item)
        top = verify_block_path(proof.block, [])
        if roots.get(top.index) != top:
            raise HypercoreError(f"block {proof.block.index} does not reach a signed root")
        values.append(proof.block.value)
    return values


def test_an_anonymous_reader_lists_books_and_verifies_a_range(loans_book):
    client = APIClient()

    books = client.get("/api/books/").json()["books"]
    values = _verified_blocks(client, loans_book, 0, 3)

    assert any(b["book"] == "loans" and b["length"] == 3 for b in books)
    assert b'"status":"active"' in values[2]


def test_a_tampered_block_is_exposed_by_its_proof(loans_book):
    block = Block.objects.get(log=loans_book, index=1)
    block.data = bytes(block.data).replace(b"approved", b"rejected")
    block.save()

    with pytest.raises(HypercoreError, match="block 1"):
        _verified_blocks(APIClient(), loans_book, 0, 3)


def test_entries_by_key_and_their_history(loans_book):
    client = APIClient()
    base = f"/api/books/{bytes(loans_book.key).hex()}"

    latest = client.get(f"{base}/entry/?key=loan:{LOAN}").json()
    history = client.get(f"{base}/history/?key=loan:{LOAN}").json()["history"]

    assert latest["block"] == 2
    assert latest["entry"]["value"]["status"] == "active"
    assert [h["entry"]["value"]["status"] for h in history] == ["active", "approved", "submitted"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/books/zz/", 404, "No book with this key"),
        ("/api/books/" + "ab" * 32 + "/", 404, "No book with this key"),
        ("/api/books/{key}/blocks/?start=0&end=99", 400, "outside the log"),
        ("/api/books/{key}/blocks/?start=0&end=5000", 400, "outside the log"),
        ("/api/books/{key}/blocks/?start=x&end=2", 400, "valid integer"),
        ("/api/books/{key}/blocks/?start=1", 400, "required"),
        ("/api/books/{key}/entry/?key=NOT%20OK", 400, "entry key"),
        ("/api/books/{key}/entry/?key=loan:unknown", 404, "no entry with this key"),
    ],
)
def test_bad_requests_get_a_clear_4xx(loans_book, path, status, message):
    response = APIClient().get(path.format(key=bytes(loans_book.key).hex()))

    assert response.status_code == status
    assert message in str(response.json())


@pytest.mark.parametrize(
    ("path", "url", "status"),
    [
        ("/api/books/", "/api/books/", 200),
        ("/api/books/{key}/", "/api/books/KEY/", 200),
        ("/api/books/{key}/blocks/", "/api/books/KEY/blocks/?start=0&end=3", 200),
        ("/api/books/{key}/blocks/", "/api/books/KEY/blocks/?start=1&end=3&since=3", 200),
        ("/api/books/{key}/blocks/", "/api/books/KEY/blocks/?start=2&end=9", 400),
        ("/api/books/{key}/entry/", f"/api/books/KEY/entry/?key=loan:{LOAN}", 200),
        ("/api/books/{key}/entry/", "/api/books/KEY/entry/?key=loan:none", 404),
        ("/api/books/{key}/history/", f"/api/books/KEY/history/?key=loan:{LOAN}", 200),
        ("/api/books/{key}/history/", "/api/books/KEY/history/?key=", 400),
    ],
)
def test_every_answer_has_the_shape_the_openapi_schema_documents(loans_book, path, url, status):
    client = APIClient()

    response = client.get(url.replace("KEY", bytes(loans_book.key).hex()))

    assert response.status_code == status
    errors = list(openapi_validator(client, path, status).iter_errors(response.json()))
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]
