"""Staff see the public books and re-verify them; other roles cannot."""

from __future__ import annotations

import pytest

from apps.ledger.models import Block, Book
from apps.ledger.services import log_append, log_for_book


@pytest.fixture
def projects_log(db):
    log = log_for_book(book=Book.PROJECTS)
    log_append(log=log, blocks=[b'{"type":"x","v":1,"key":"a","value":null}'] * 4)
    return log


def test_juma_sees_the_books_and_verifies_one(client, juma, projects_log):
    client.force_login(juma)

    page = client.get("/staff/books/")
    verified = client.post("/staff/books/projects/verify/", follow=True)

    assert page.status_code == 200
    assert bytes(projects_log.key).hex() in page.content.decode()
    assert "4 block(s), their tree and every signed head verify" in verified.content.decode()


def test_verify_now_names_a_tampered_block(client, amina, projects_log):
    Block.objects.filter(log=projects_log, index=2).update(data=b"tampered")
    client.force_login(amina)

    response = client.post("/staff/books/projects/verify/", follow=True)

    assert "verification FAILED after 2 blocks: block 2:" in response.content.decode()


def test_borrowers_and_investors_cannot_open_it(client, wanjiru, ines, projects_log):
    for person in (wanjiru, ines):
        client.force_login(person)
        assert client.get("/staff/books/").status_code == 403
        assert client.post("/staff/books/projects/verify/").status_code == 403


def test_verifying_an_unknown_book_is_a_404(client, juma, db):
    client.force_login(juma)

    assert client.post("/staff/books/nonsense/verify/").status_code == 404
