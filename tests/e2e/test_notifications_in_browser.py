"""In a real browser, Juma keeps Kijani's dashboard open. Wanjiru applies: a toast links Juma
to her application and the queue count goes up, without a reload. Then his notifications
socket drops and cannot come back: the bell says it is polling, and when Otieno applies
meanwhile Juma still hears of it. Reloaded with the socket back, the page shows nothing twice.

Borrowers act through the services, each in a thread of its own (see test_loans_in_browser.py:
what they send after commit cannot run in Playwright's thread). The web process is another
process: on the embedded in-process channel layer, news reaches it through the rows."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.applications.models import Loan
from tests.applications.conftest import apply, credentials_of, goats  # noqa: F401 (fixtures)

from .test_funding_in_browser import _elsewhere
from .test_portals_in_browser import _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LIVE = 20_000  # ms: the web process reads the rows every 5 s, a polling page every 15 s
# Every WebSocket the page opens is kept, so the test can drop them; once blocked, new ones go
# to a path of the node with no socket behind it and fail, as when a proxy drops the upgrade
# (the node's own origin: the Content-Security-Policy allows no other).
SOCKET_SWITCH = r"""
(() => {
  const Real = window.WebSocket;
  window.__sockets = [];
  window.__blockSockets = false;
  window.WebSocket = function (url, protocols) {
    const blocked = url.replace(/\/ws\/.*$/, "/ws/no-such-socket/");
    const socket = new Real(window.__blockSockets ? blocked : url, protocols);
    window.__sockets.push(socket);
    return socket;
  };
  window.WebSocket.prototype = Real.prototype;
})();
"""


def test_juma_hears_of_applications_live_and_by_polling_when_the_socket_drops(
    page, node_url, screenshot, juma, wanjiru, otieno, request
):
    project, apply_for = request.getfixturevalue("goats"), request.getfixturevalue("apply")
    for borrower in (wanjiru, otieno):
        request.getfixturevalue("credentials_of")(borrower)
    page.add_init_script(SOCKET_SWITCH)
    _sign_in(page, node_url, juma.email)
    page.wait_for_url(re.compile(r"/staff/$"))
    bell = page.locator("#notification-bell")
    to_review = page.locator('#loan-queues [data-queue="to_review"]')
    expect(bell).to_have_attribute("data-live-state", "connected")
    expect(to_review).to_have_text("0")

    first = _elsewhere(apply_for, wanjiru, project)

    toast = page.locator("#live-notifications .toast").filter(has_text=first.reference)
    expect(toast).to_have_text(
        f"New application {first.reference} for {project.name}.", timeout=LIVE
    )
    expect(toast.get_by_role("link")).to_have_attribute("href", f"/staff/loans/{first.pk}/")
    expect(to_review).to_have_text("1")
    expect(bell.locator("[data-unread]")).to_have_text("1")
    screenshot("live")

    page.evaluate(
        "() => { window.__blockSockets = true; window.__sockets.forEach(s => s.close()); }"
    )
    expect(bell).to_have_attribute("data-live-state", "polling")

    second = _elsewhere(apply_for, otieno, project)

    expect(
        page.locator("#live-notifications .toast").filter(has_text=second.reference)
    ).to_have_text(f"New application {second.reference} for {project.name}.", timeout=LIVE)
    expect(bell).to_have_attribute("data-live-state", "polling")
    expect(bell.locator("[data-unread]")).to_have_text("2")
    expect(to_review).to_have_text("2")
    assert Loan.objects.count() == 2
    screenshot("polling")

    page.reload()
    expect(bell).to_have_attribute("data-live-state", "connected")
    expect(bell.locator("[data-unread]")).to_have_text("2")
    page.wait_for_timeout(1500)  # a replay of what the page had seen would have come by now
    expect(page.locator("#live-notifications .toast")).to_have_count(0)
