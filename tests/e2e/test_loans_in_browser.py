"""In a real browser, the whole life of Wanjiru's loan: she applies to Kijani's dairy goat project
(seeing what she discloses), Juma approves, she signs the agreement, Juma pays it out and she
confirms with the code she was sent, she reports her payment, Juma confirms it, and her loan
closes with a repayment history credential in her credit record. Then with a self-custody
wallet: her browser signs the presentation and the agreement with the key it keeps.

Staff act through the services here (their pages are another part of the node)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from apps.applications import services
from apps.applications.agreement import sign_agreement, verify_signed_agreement
from apps.applications.models import Agreement, Loan, LoanStatus, Repayment
from apps.identity import credential_services, wallet_services
from apps.identity.models import Wallet, WalletEvent
from apps.identity.ssi.didkey import Ed25519Key
from apps.projects.services import project_create, project_publish
from tests.projects.conftest import goat_terms

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _sign_in(page, node_url: str, email: str) -> None:
    page.goto(f"{node_url}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/borrow/$"))


@pytest.fixture
def goats(juma, amina):
    return project_publish(actor=amina, project=project_create(actor=juma, terms=goat_terms()))


def _credentials(amina, wanjiru) -> None:
    for kind, claims in (
        ("age", {"birthDate": "1990-02-03"}),
        ("citizenship", {"citizenship": "KE"}),
    ):
        credential_services.credential_issue(
            issuer=amina, holder=wanjiru, credential_type=kind, claims=claims
        )


def _staff(service, /, **kwargs):
    """What staff do, through SERVICE, in a thread of its own: the live notifications it sends
    go through async_to_sync, which cannot run in Playwright's thread (it has a running event
    loop). Its database connection is closed when it is done."""

    def run():
        try:
            return service(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def _apply_in_browser(page, goats, screenshot) -> Loan:
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Projects").click()
    page.get_by_role("link", name=f"Apply for {goats.name}").click()
    page.wait_for_url(re.compile(rf"/borrow/loans/apply/{goats.pk}/$"))
    expect(page.locator("#eligibility [data-eligibility]")).to_have_attribute(
        "data-eligibility", "yes"
    )

    page.get_by_label("Amount (KES)").fill("20000")
    page.get_by_label("Duration (in months)").fill("12")
    page.get_by_role("button", name="Show the schedule").click()
    expect(page.locator('table.schedule tr[data-row="12"]')).to_be_visible()
    expect(page.locator("[data-total=repaid]")).to_contain_text("KES")
    # The schedule follows what is typed, without the button.
    page.get_by_label("Duration (in months)").fill("9")
    expect(page.locator('table.schedule tr[data-row="9"]')).to_be_visible()
    expect(page.locator('table.schedule tr[data-row="12"]')).to_have_count(0)
    page.get_by_label("Amount (KES)").fill("90000")
    expect(page.locator("[data-no-schedule]")).to_contain_text("Between")
    page.get_by_label("Amount (KES)").fill("20000")
    page.get_by_label("Duration (in months)").fill("12")
    expect(page.locator('table.schedule tr[data-row="12"]')).to_be_visible()

    page.get_by_label("What is the loan for?").fill("Two in-calf goats and a shed.")
    present = page.locator("#present")
    expect(present).to_contain_text("Presented whole")
    expect(present).to_contain_text("1990-02-03")
    expect(present).to_contain_text("Kenya (KE)")
    page.get_by_label("I have read this and I agree").check()
    screenshot("apply")
    page.get_by_role("button", name="Apply", exact=True).click()

    page.wait_for_url(re.compile(r"/borrow/loans/\d+/$"))
    loan = Loan.objects.get()
    expect(page.get_by_text(f"Your application {loan.reference} was sent")).to_be_visible()
    expect(page.locator("[data-status-words]")).to_contain_text("reviewing it")
    screenshot("applied")
    return loan


def test_wanjiru_applies_signs_confirms_repays_and_gains_a_credential(
    page, node_url, screenshot, wanjiru, amina, juma, goats, tmp_path: Path
):
    _credentials(amina, wanjiru)
    _sign_in(page, node_url, wanjiru.email)
    loan = _apply_in_browser(page, goats, screenshot)
    assert (loan.amount, loan.duration) == (Decimal("20000"), 12)
    assert loan.presentation.disclosed == {
        "age": {"birthDate": "1990-02-03"},
        "citizenship": {"citizenship": "KE"},
    }

    _staff(services.application_approve, actor=juma, loan=loan)
    page.reload()
    page.get_by_role("link", name="Read and sign the agreement").click()
    page.wait_for_url(re.compile(rf"/borrow/loans/{loan.pk}/agreement/$"))
    agreement = Agreement.objects.get()
    expect(page.locator("[data-agreement-hash]")).to_have_text(agreement.hash)
    expect(page.locator('[data-signature="originator"]')).to_have_attribute("data-valid", "true")
    expect(page.locator('[data-signature="borrower"]')).to_have_attribute("data-valid", "false")
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Sign the agreement").click()
    expect(page.get_by_text("Your password, to sign, is not right.")).to_be_visible()
    assert Agreement.objects.get().borrower_signature == ""
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign the agreement").click()
    page.wait_for_url(re.compile(rf"/borrow/loans/{loan.pk}/$"))
    expect(page.get_by_text("You signed the agreement.")).to_be_visible()
    expect(page.locator("[data-status-words]")).to_contain_text("will send the money")
    assert verify_signed_agreement(Agreement.objects.get().signed_file()).fully_signed
    screenshot("signed")

    # The signed file, downloaded, verifies on the public page; so does its PDF download.
    with page.expect_download() as download_info:
        page.locator("#agreement").get_by_role("link", name="Signed file (JSON)").click()
    signed_path = tmp_path / "agreement.json"
    download_info.value.save_as(signed_path)
    with page.expect_download() as pdf_info:
        page.locator("#agreement").get_by_role("link", name="PDF").click()
    pdf_path = tmp_path / "agreement.pdf"
    pdf_info.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    page.goto(f"{node_url}/agreements/verify/")
    page.get_by_label("Or upload the file").set_input_files(str(signed_path))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("[data-fully-signed]")).to_have_attribute("data-fully-signed", "true")
    screenshot("verified")

    mail.outbox.clear()
    _staff(services.loan_disburse, actor=juma, loan=loan, rail="mobile_money", reference="QX1")
    (code,) = re.findall(r"code on your loan's page: (\d{6})", mail.outbox[-1].body)
    page.goto(f"{node_url}/borrow/loans/{loan.pk}/")
    page.get_by_label("The code you received").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Confirm I received it").click()
    expect(page.get_by_text("This code is not right (4 tries left).")).to_be_visible()
    page.get_by_label("The code you received").fill(code)
    page.get_by_role("button", name="Confirm I received it").click()
    expect(page.locator("[data-confirmed]")).to_be_visible()
    expect(page.locator('tr[data-installment="12"]')).to_be_visible()
    screenshot("active")

    owed = sum(i.total_due for i in loan.installments.all())
    payments = page.locator("#payments")
    payments.get_by_label("Amount").fill(str(owed))
    payments.get_by_label("Payment reference").fill("MPESA-ALL-1")
    payments.get_by_label("Paid by").select_option("mobile_money")
    payments.get_by_label("Paid on").fill(timezone.localdate().isoformat())
    payments.get_by_role("button", name="Report the payment").click()
    expect(page.get_by_text("Your payment is reported")).to_be_visible()
    expect(page.locator('tr[data-payment="MPESA-ALL-1"]')).to_have_attribute(
        "data-state", "reported"
    )

    _staff(services.repayment_confirm, actor=juma, repayment=Repayment.objects.get())
    page.reload()
    expect(page.locator("[data-status-words]")).to_have_text("Repaid and closed")
    expect(page.locator('tr[data-state="paid"]')).to_have_count(13)  # the fee and 12 months
    screenshot("closed")
    assert Loan.objects.get().status == LoanStatus.CLOSED

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Credit record").click()
    history = page.locator("article.credential", has_text="Loan repayment history")
    expect(history).to_be_visible()
    expect(history.locator("[data-state]")).to_have_attribute("data-state", "valid")
    expect(history).to_contain_text("20000-50000 KES")
    screenshot("credential")


def test_a_self_custody_wallet_presents_and_signs_in_the_browser(
    page, node_url, screenshot, wanjiru, amina, juma, goats
):
    _credentials(amina, wanjiru)
    # Her key, exported from the node, goes into her browser: same DID, same credentials.
    jwk = wallet_services.wallet_key_export(user=wanjiru, password=PASSWORD)
    key = Ed25519Key.from_jwk(jwk)
    _sign_in(page, node_url, wanjiru.email)
    page.goto(f"{node_url}/borrow/wallet/self-custody/")
    page.get_by_label("Exported key (JWK)").fill(json.dumps(jwk))
    page.get_by_role("button", name="Import the key and switch").click()
    expect(page.locator("#self-custody-status")).to_contain_text(
        "Done: your wallet is in self-custody", timeout=20_000
    )
    assert Wallet.objects.get(user=wanjiru).custody == "self"

    loan = _apply_in_browser(page, goats, screenshot)
    assert loan.presentation.holder_did == key.did
    assert not WalletEvent.objects.filter(kind=WalletEvent.Kind.PRESENTED).exists()

    _staff(services.application_approve, actor=juma, loan=loan)
    page.goto(f"{node_url}/borrow/loans/{loan.pk}/agreement/")
    expect(page.get_by_label("Your password")).to_have_count(0)
    page.get_by_role("button", name="Sign in this browser").click()
    page.wait_for_url(re.compile(rf"/borrow/loans/{loan.pk}/$"))
    expect(page.get_by_text("You signed the agreement.")).to_be_visible()
    screenshot("signed")

    agreement = Agreement.objects.get()
    # The browser's JWS is the node's own, byte for byte: same header, payload and key.
    assert agreement.borrower_signature == sign_agreement(
        key=key, document_hash=agreement.hash, role="borrower"
    )
    assert verify_signed_agreement(agreement.signed_file()).fully_signed
    assert not WalletEvent.objects.filter(kind=WalletEvent.Kind.AGREEMENT_SIGNED).exists()
