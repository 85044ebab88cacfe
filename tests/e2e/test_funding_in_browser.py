"""In a real browser, Ines funds Kijani's goat project: she commits from the project's page and
sees the bar move; a second browser on the same page sees the figures change live, for her
commitment and for Pablo's; Juma confirms the funds, Wanjiru's loan is repaid in part, and Ines
follows her portfolio and downloads her statement as CSV and PDF.

Staff, Pablo and Wanjiru act through the services here, each in a thread of its own (see
test_loans_in_browser.py: what they send after commit cannot run in Playwright's thread)."""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from apps.applications import services as loans
from apps.funding import services
from apps.funding.models import Commitment
from tests.applications.conftest import (  # noqa: F401 (fixtures)
    active_loan,
    apply,
    credentials_of,
    simple_goats,
)
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
LIVE = 15_000  # ms: the web process rereads every 5 s what other processes change
WATCHER = "test_ines_commits_watches_the_funding_live_and_follows_her_returns-watcher"


def _sign_in(page, node_url: str, email: str) -> None:
    page.goto(f"{node_url}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/invest/$"))


def _elsewhere(action, /, *args, **kwargs):
    """ACTION in a thread of its own, its database connection closed when it is done."""

    def run():
        try:
            return action(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def test_ines_commits_watches_the_funding_live_and_follows_her_returns(
    browser, page, node_url, screenshot, ines, pablo, juma, request, tmp_path: Path
):
    goats = request.getfixturevalue("simple_goats")
    make_loan = request.getfixturevalue("active_loan")
    project_url = f"{node_url}/projects/{goats.pk}/"
    watcher_context = browser.new_context()
    watcher = watcher_context.new_page()
    watcher.goto(project_url)
    watched = watcher.locator("#funding")
    expect(watched).to_have_attribute("data-connected", "true")
    expect(watched.locator('[data-figure="committed"]')).to_have_text("0.00 KES")

    _sign_in(page, node_url, ines.email)
    page.goto(project_url)
    funding = page.locator("#funding")
    expect(funding.locator('[data-figure="target"]')).to_have_text("500,000.00 KES")
    funding.get_by_label("Amount (KES)").fill("500")
    funding.get_by_role("button", name="Commit").click()
    expect(page.get_by_text("The minimum ticket is 1000.00 KES.")).to_be_visible()
    assert not Commitment.objects.exists()
    page.locator("#funding").get_by_label("Amount (KES)").fill("100000")
    screenshot("commit")
    page.locator("#funding").get_by_role("button", name="Commit").click()

    page.wait_for_url(re.compile(rf"/projects/{goats.pk}/"))
    expect(page.get_by_text("You committed 100,000.00 KES")).to_be_visible()
    funding = page.locator("#funding")
    expect(funding.locator('[data-figure="committed"]')).to_have_text("100,000.00 KES")
    expect(funding.locator('[data-bar="committed"]')).to_have_attribute("width", "20.0")
    expect(funding).to_have_attribute("data-connected", "true")
    screenshot("committed")
    # The other browser heard it, without reloading.
    expect(watched.locator('[data-figure="committed"]')).to_have_text("100,000.00 KES")
    expect(watched.locator('[data-bar="committed"]')).to_have_attribute("width", "20.0")

    # Pablo commits from elsewhere: both pages follow.
    pablos = _elsewhere(
        services.commitment_create,
        investor=pablo, project=goats, amount="150000", request_id="pablo-node-0001",
    )  # fmt: skip
    expect(watched.locator('[data-figure="committed"]')).to_have_text(
        "250,000.00 KES", timeout=LIVE
    )
    expect(watched.locator('[data-figure="investors"]')).to_have_text("2")
    expect(funding.locator('[data-bar="committed"]')).to_have_attribute(
        "width", "50.0", timeout=LIVE
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    watcher.screenshot(path=str(ARTIFACTS / f"{WATCHER}-live.png"), full_page=True)

    # Juma confirms both: the confirmed part of the bar grows.
    for commitment, reference in ((Commitment.objects.get(investor=ines), "BANK-I1"),
                                  (pablos, "BANK-P1")):  # fmt: skip
        _elsewhere(services.commitment_confirm, actor=juma, commitment=commitment,
                   reference=reference)  # fmt: skip
    expect(funding.locator('[data-figure="confirmed"]')).to_have_text(
        "250,000.00 KES", timeout=LIVE
    )
    expect(funding.locator('[data-bar="confirmed"]')).to_have_attribute("width", "50.0")

    # Wanjiru borrows from the project and repays a first part.
    loan = _elsewhere(make_loan, amount="12000", duration=12)
    _elsewhere(
        loans.repayment_record,
        actor=juma, loan=loan, amount="3000", reference="MPESA-R1", rail="mobile_money",
        paid_on=timezone.localdate(),
    )  # fmt: skip
    mine = Commitment.objects.get(investor=ines)
    received = sum(d.principal + d.interest for d in mine.distributions.all())
    assert received > 0

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Portfolio").click()
    page.wait_for_url(re.compile(r"/invest/portfolio/$"))
    row = page.locator(f'tr[data-position="{mine.pk}"]')
    expect(row).to_have_attribute("data-status", "confirmed")
    expect(row.locator('[data-cell="amount"]')).to_have_text("100,000.00 KES")
    expect(page.locator('[data-chart-total="received"]')).to_have_text(f"{received:,.2f} KES")
    expect(page.locator("svg.line-chart polyline")).to_have_count(2)
    screenshot("portfolio")

    nav.get_by_role("link", name="Statements").click()
    page.wait_for_url(re.compile(r"/invest/statements/$"))
    closing = page.locator('[data-balance="closing"]')
    expect(closing).to_be_visible()
    screenshot("statement")
    with page.expect_download() as csv_info:
        page.locator("#statement").get_by_role("link", name="CSV").click()
    csv_path = tmp_path / "statement.csv"
    csv_info.value.save_as(csv_path)
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    opening, *movements, last = [r for r in rows if not r["movement"].startswith("total ")]
    balance = Decimal(opening["balance"]) + sum(Decimal(r["balance change"]) for r in movements)
    assert last["movement"] == "closing balance" and balance == Decimal(last["balance"])
    assert closing.inner_text().strip() == f"{balance:,.2f}"
    with page.expect_download() as pdf_info:
        page.locator("#statement").get_by_role("link", name="PDF").click()
    pdf_path = tmp_path / "statement.pdf"
    pdf_info.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    watcher_context.close()


def test_while_its_socket_is_down_the_page_polls_the_figures(
    page, node_url, screenshot, pablo, request
):
    goats = request.getfixturevalue("simple_goats")
    refused = []

    def refuse(socket) -> None:  # every connection, and every reconnection, fails at once
        refused.append(socket.url)
        socket.close(code=1011, reason="down")

    page.route_web_socket(re.compile(r"/ws/projects/"), refuse)
    page.goto(f"{node_url}/projects/{goats.pk}/")
    funding = page.locator("#funding")
    expect(funding.locator('[data-figure="committed"]')).to_have_text("0.00 KES")

    _elsewhere(
        services.commitment_create,
        investor=pablo, project=goats, amount="50000", request_id="pablo-node-0002",
    )  # fmt: skip

    # The next poll (every 15 s) brings the new figures.
    expect(funding.locator('[data-figure="committed"]')).to_have_text(
        "50,000.00 KES", timeout=25_000
    )
    expect(funding.locator('[data-bar="committed"]')).to_have_attribute("width", "10.0")
    assert refused and funding.get_attribute("data-connected") is None
    screenshot("polled")
