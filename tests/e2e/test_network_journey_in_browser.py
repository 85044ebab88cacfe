"""The demo journey through the three nodes' web interfaces, in Chromium, every step kept as a
screenshot under test-artifacts/e2e/network-journey/:

Kofi, on his own investor node C, sees the projects of Kijani's node A and Sahel's node B, which
C found through A alone. Wanjiru applies on A for the dairy goat project; Juma approves; she
signs the agreement; Juma disburses. Kofi funds the project from C; Juma confirms his funds and
records Wanjiru's first payment; Kofi's page on C shows his share of it."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.processes]
PASSWORD = "growr-demo-2026"  # the demo's published password
DISCOVERY = 90_000  # ms: C finds A and B and pulls their books (about 10 s here)
REPLICATION = 60_000  # ms: a change on A reaches C's copy of its books (about 6 s here)
SHOTS = ARTIFACTS / "network-journey"


class Journey:
    """Numbered screenshots, in the order the steps happen across the nodes."""

    def __init__(self) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def shot(self, page, step: str) -> None:
        self.count += 1
        page.screenshot(path=str(SHOTS / f"{self.count:02d}-{step}.png"), full_page=True)


def _signed_in(browser, node, email: str):
    page = browser.new_context().new_page()
    page.goto(f"{node.url}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/(staff|borrow|invest)/$"))
    return page


def _reload_until(page, locator, *, timeout: int) -> None:
    """Reload PAGE until LOCATOR shows: what another node changed arrives by replication."""
    step = 2_000
    for _ in range(timeout // step):
        if locator.count() and locator.first.is_visible():
            return
        page.wait_for_timeout(step)
        page.reload()
    expect(locator.first).to_be_visible()


def test_a_loan_funded_from_another_node_pays_its_investor_there(browser, demo_nodes):
    a, _, c = demo_nodes
    journey = Journey()

    # Kofi's node found both originators through the seed and lists their projects.
    kofi = _signed_in(browser, c, "kofi@own.demo.growr.test")
    kofi.goto(f"{c.url}/invest/projects/")
    goats = kofi.get_by_role("row", name=re.compile("Dairy goats for Nakuru"))
    _reload_until(kofi, goats, timeout=DISCOVERY)
    solar = kofi.get_by_role("row", name=re.compile("Solar irrigation pumps"))
    _reload_until(kofi, solar, timeout=DISCOVERY)
    expect(goats).to_contain_text("Kijani Microfinance")
    expect(solar).to_contain_text("Sahel Growers Credit")
    journey.shot(kofi, "c-catalogue-lists-a-and-b")

    # Wanjiru applies on A with her credentials.
    wanjiru = _signed_in(browser, a, "wanjiru@demo.growr.test")
    wanjiru.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    wanjiru.get_by_role("link", name="Apply for Dairy goats for Nakuru smallholders").click()
    wanjiru.get_by_label("Amount (KES)").fill("20000")
    wanjiru.get_by_label("Duration (in months)").fill("12")
    wanjiru.get_by_label("What is the loan for?").fill("Two in-calf goats and a shed.")
    wanjiru.get_by_label("I have read this and I agree").check()
    journey.shot(wanjiru, "a-wanjiru-applies")
    wanjiru.get_by_role("button", name="Apply", exact=True).click()
    wanjiru.wait_for_url(re.compile(r"/borrow/loans/\d+/$"))
    loan_url = wanjiru.url
    reference = re.search(r"application (L-\d+) was sent", wanjiru.content())[1]
    expect(wanjiru.locator("[data-status-words]")).to_contain_text("reviewing it")

    # Juma approves it on A.
    juma = _signed_in(browser, a, "agent@kijani.demo.growr.test")
    juma.goto(f"{a.url}/staff/loans/")
    juma.get_by_role("link", name=reference).click()
    journey.shot(juma, "a-juma-reviews")
    juma.get_by_role("button", name=re.compile("^Approve")).click()
    expect(juma.locator("#agreement-heading")).to_be_visible()
    staff_loan_url = juma.url

    # Wanjiru signs the agreement with her password.
    wanjiru.goto(loan_url)
    wanjiru.get_by_role("link", name="Read and sign the agreement").click()
    wanjiru.get_by_label("Your password").fill(PASSWORD)
    wanjiru.get_by_role("button", name="Sign the agreement").click()
    expect(wanjiru.get_by_text("You signed the agreement.")).to_be_visible()
    journey.shot(wanjiru, "a-wanjiru-signed")

    # Juma disburses.
    juma.goto(staff_loan_url)
    juma.get_by_label("Sent by").select_option("mobile_money")
    juma.get_by_label("Payment reference").fill("MPESA-DEMO-D1")
    juma.get_by_role("button", name="Record the disbursement").click()
    expect(juma.locator("#schedule-heading")).to_be_visible()
    journey.shot(juma, "a-juma-disbursed")

    # Kofi funds the goat project from his own node.
    kofi.goto(f"{c.url}/invest/projects/")
    kofi.get_by_role("link", name=re.compile("Fund from this node.*Dairy goats")).click()
    kofi.get_by_label("Amount").fill("50000")
    journey.shot(kofi, "c-kofi-commits")
    kofi.get_by_role("button", name="Commit").click()
    kofi.wait_for_url(re.compile(r"/invest/network/commitments/$"))
    position = kofi.locator("tr[data-commitment]", has_text="Dairy goats")
    expect(position.locator("[data-state]")).to_have_text("pending")

    # Juma confirms Kofi's funds, then records Wanjiru's first payment.
    juma.goto(f"{a.url}/staff/funding/to-confirm/")
    kofis = juma.locator("tr", has_text="An investor's own node").filter(has_text="50,000.00")
    kofis.get_by_label("Payment reference").fill("KCB-KOFI-1")
    journey.shot(juma, "a-juma-confirms-kofis-funds")
    kofis.get_by_role("button", name=re.compile("^Confirm the funds")).click()
    expect(juma.locator("tr", has_text="An investor's own node")).to_have_count(0)
    juma.goto(staff_loan_url)
    juma.get_by_label("Amount received").fill("2500")
    juma.get_by_label("Payment reference").fill("MPESA-DEMO-R1")
    juma.get_by_label("Paid by").select_option("mobile_money")
    juma.get_by_role("button", name="Record the repayment").click()
    applied = juma.locator("#repayments tr", has_text="MPESA-DEMO-R1")
    expect(applied).to_contain_text("Applied")
    journey.shot(juma, "a-juma-records-a-repayment")
    principal = Decimal(re.search(r"([\d,.]+) principal", applied.inner_text())[1].replace(",", ""))

    # On C, Kofi's commitment is confirmed and holds his share: all of it, he alone funded it.
    kofi.goto(f"{c.url}/invest/network/commitments/")
    confirmed = kofi.locator("tr[data-commitment]", has_text="confirmed")
    _reload_until(kofi, confirmed, timeout=REPLICATION)
    returned = kofi.locator("tr[data-commitment]", has_text=f"{principal:,.2f}")
    _reload_until(kofi, returned, timeout=REPLICATION)
    journey.shot(kofi, "c-kofi-sees-his-share")
    assert journey.count == 9  # every step kept
