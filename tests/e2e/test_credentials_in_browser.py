"""In a real browser: Amina issues Wanjiru a citizenship credential through the staff form and
later revokes it; Wanjiru sees it in her credit record, valid and then revoked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.identity.models import CredentialRecord

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _sign_in(page, node_url: str, email: str, lands_on: str) -> None:
    page.goto(f"{node_url}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(lands_on))


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_amina_issues_and_revokes_and_wanjiru_sees_it(page, node_url, amina, wanjiru, screenshot):
    _sign_in(page, node_url, amina.email, r"/staff/$")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Credentials").click()
    page.get_by_role("link", name=re.compile("Issue a credential")).first.click()
    page.get_by_label("Credential type").select_option("citizenship")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Borrower's e-mail").fill(wanjiru.email)
    page.get_by_label("Country of citizenship").select_option("KE")
    screenshot("issue-form")
    page.get_by_role("button", name="Issue the credential").click()
    expect(page.get_by_text(f"Citizenship issued to {wanjiru.email}.")).to_be_visible()
    record = CredentialRecord.objects.get()
    assert record.claims == {"citizenship": "KE"}

    _sign_out(page)
    _sign_in(page, node_url, wanjiru.email, r"/borrow/$")
    page.goto(f"{node_url}/borrow/credentials/")
    card = page.locator("article", has_text="Citizenship")
    expect(card).to_contain_text("Kenya")
    expect(card).to_contain_text("Valid")
    _sign_out(page)

    _sign_in(page, node_url, amina.email, r"/staff/$")
    page.goto(f"{node_url}/staff/credentials/{record.pk}/")
    page.get_by_label("Reason").fill("Passport reported stolen")
    page.get_by_role("button", name=re.compile("Revoke")).click()
    expect(page.get_by_text(re.compile("revoked: verifiers see it"))).to_be_visible()
    _sign_out(page)

    _sign_in(page, node_url, wanjiru.email, r"/borrow/$")
    page.goto(f"{node_url}/borrow/credentials/")
    expect(page.locator("article", has_text="Citizenship")).to_contain_text("Revoked")
    screenshot("revoked-in-record")
