"""In a real browser, Wanjiru takes her wallet into her own hands: WebCrypto makes or imports her
Ed25519 key, IndexedDB keeps it, and the page signs the proof of control and her presentations."""

from __future__ import annotations

import json
import os
import re

import pytest
from playwright.sync_api import expect

from apps.identity import credential_services
from apps.identity.models import PresentationRecord, Wallet, WalletEvent
from apps.identity.ssi.didkey import Ed25519Key, b58encode

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"
KYC_CLAIMS = {
    "given_name": "Wanjiru",
    "family_name": "Kamau",
    "birthdate": "1990-02-03",
    "nationality": "KE",
    "address": "Plot 12, Nakuru",
    "id_number": "23456789",
}


def _sign_in(page, node_url: str, email: str) -> None:
    page.goto(f"{node_url}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/borrow/$"))


def _open_wallet(page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Wallet").click()
    page.wait_for_url(re.compile(r"/borrow/wallet/$"))


def _present_and_verify(page, node_url, *, age, kyc, screenshot) -> None:
    """Choose the age credential and the KYC's nationality, sign in the browser, see the node's
    answer."""
    page.goto(f"{node_url}/borrow/credentials/present/")
    page.locator(f'input[name="credentials"][value="{age.pk}"]').check()
    page.locator(f'input[name="credentials"][value="{kyc.pk}"]').check()
    page.locator(f'input[name="disclose_{kyc.pk}"][value="nationality"]').check()
    page.get_by_role("button", name="Present to this node").click()
    page.get_by_role("heading", name="Sign the presentation").wait_for()
    page.get_by_role("button", name="Sign and present").click()

    result = page.locator("#present-result [data-verified]")
    expect(result).to_have_attribute("data-verified", "true", timeout=20_000)
    expect(result.get_by_role("heading", level=2)).to_have_text("Verified")
    expect(result).to_contain_text("1990-02-03")
    expect(result).to_contain_text("KE")
    screenshot("verified")
    kept = PresentationRecord.objects.get()
    assert kept.disclosed == {"age": {"birthDate": "1990-02-03"}, "kyc": {"nationality": "KE"}}
    # The browser signed: the node used no key of hers.
    assert not WalletEvent.objects.filter(kind=WalletEvent.Kind.PRESENTED).exists()


def _issue_age_and_kyc(amina, wanjiru):
    age = credential_services.credential_issue(
        issuer=amina, holder=wanjiru, credential_type="age", claims={"birthDate": "1990-02-03"}
    )
    kyc = credential_services.credential_issue(
        issuer=amina, holder=wanjiru, credential_type="kyc", claims=KYC_CLAIMS
    )
    return age, kyc


def test_wanjiru_switches_to_a_key_made_in_her_browser_and_presents_with_it(
    page, node_url, screenshot, wanjiru, amina
):
    _sign_in(page, node_url, wanjiru.email)
    _open_wallet(page)
    custodial_did = page.locator("#wallet-did").inner_text()
    expect(page.locator("#wallet-custody")).to_contain_text("Custodial")

    page.get_by_role("link", name="Switch to self-custody").click()
    expect(page.get_by_text("A new key means a new DID.")).to_be_visible()
    page.get_by_role("button", name="Generate a key and switch").click()
    status = page.locator("#self-custody-status")
    expect(status).to_contain_text("Done: your wallet is in self-custody", timeout=20_000)
    screenshot("switched")

    wallet = Wallet.objects.get(user=wanjiru)
    assert (wallet.custody, wallet.sealed_key) == ("self", None)
    assert wallet.did != custodial_did and wallet.did.startswith("did:key:z6Mk")
    # The private key was made non-extractable and stays in IndexedDB under the new DID.
    stored = page.evaluate(
        """did => new Promise((resolve, reject) => {
          const open = indexedDB.open("growr-wallet", 1);
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const get = open.result.transaction("keys").objectStore("keys").get(did);
            get.onsuccess = () => resolve(get.result && {
              extractable: get.result.privateKey.extractable,
              algorithm: get.result.privateKey.algorithm.name,
              origin: get.result.origin,
            });
          };
        })""",
        wallet.did,
    )
    assert stored == {"extractable": False, "algorithm": "Ed25519", "origin": "generated"}

    status.get_by_role("link", name="Open your wallet").click()
    page.wait_for_url(re.compile(r"/borrow/wallet/$"))
    expect(page.locator("#wallet-did")).to_have_text(wallet.did)
    expect(page.locator("#wallet-custody")).to_contain_text("Self-custody")
    expect(page.locator("#wallet-history")).to_contain_text(f"DID changed from {custodial_did}")
    screenshot("wallet")

    # Kijani issues to her wallet's current DID: the one her browser holds the key of.
    age, kyc = _issue_age_and_kyc(amina, wanjiru)
    assert age.holder_did == kyc.holder_did == wallet.did

    _present_and_verify(page, node_url, age=age, kyc=kyc, screenshot=screenshot)


def test_wanjiru_takes_her_exported_key_into_the_browser_and_keeps_her_did(
    page, node_url, screenshot, wanjiru, amina
):
    _sign_in(page, node_url, wanjiru.email)
    _open_wallet(page)
    did = page.locator("#wallet-did").inner_text()

    page.get_by_role("link", name="Export your private key").click()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Show my key").click()
    jwk_text = page.get_by_label("Your private key (JWK)").input_value()
    assert Ed25519Key.from_jwk(json.loads(jwk_text)).did == did
    screenshot("exported")

    page.get_by_role("link", name="Use it in this browser").click()
    page.wait_for_url(re.compile(r"/borrow/wallet/self-custody/$"))
    field = page.get_by_label("Exported key (JWK)")
    status = page.locator("#self-custody-status")
    field.fill('{"kty": "OKP", "crv": "Ed25519"}')
    page.get_by_role("button", name="Import the key and switch").click()
    expect(status).to_contain_text("The key must be an Ed25519 private JWK")
    assert Wallet.objects.get(user=wanjiru).custody == "custodial"

    field.fill(jwk_text)
    page.get_by_role("button", name="Import the key and switch").click()
    expect(status).to_contain_text(f"Done: your wallet is in self-custody with the DID {did}.")

    wallet = Wallet.objects.get(user=wanjiru)
    assert (wallet.did, wallet.custody) == (did, "self")
    _open_wallet(page)
    expect(page.locator("#wallet-did")).to_have_text(did)
    expect(page.locator("#wallet-custody")).to_contain_text("Self-custody")
    history = page.locator("#wallet-history")
    expect(history).to_contain_text("Switched to self-custody")
    expect(history).to_contain_text("same DID as before")
    expect(history).to_contain_text("Private key exported")
    screenshot("wallet")

    age, kyc = _issue_age_and_kyc(amina, wanjiru)
    _present_and_verify(page, node_url, age=age, kyc=kyc, screenshot=screenshot)


def test_a_custodial_wallet_presents_with_the_key_the_node_keeps(
    page, node_url, screenshot, wanjiru, amina
):
    age, kyc = _issue_age_and_kyc(amina, wanjiru)
    _sign_in(page, node_url, wanjiru.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Credit record").click()
    expect(page.locator('[data-state="valid"]')).to_have_count(2)
    screenshot("record")

    page.get_by_role("link", name="Prove it to this node").click()
    page.locator(f'input[name="credentials"][value="{age.pk}"]').check()
    page.locator(f'input[name="credentials"][value="{kyc.pk}"]').check()
    page.locator(f'input[name="disclose_{kyc.pk}"][value="nationality"]').check()
    page.get_by_role("button", name="Present to this node").click()

    expect(page.locator("#present-result [data-verified]")).to_have_attribute(
        "data-verified", "true"
    )
    screenshot("verified")
    _open_wallet(page)
    expect(page.locator("#wallet-history")).to_contain_text(
        "Presentation signed by the node for the holder"
    )


def test_the_browser_spells_did_key_as_the_node_does(page, node_url):
    page.goto(f"{node_url}/accounts/login/")
    page.add_script_tag(url=f"{node_url}/static/js/wallet.js")

    samples = [b"", b"\0", b"\0\0\x01", b"\xff" * 3, os.urandom(20)]
    for data in samples:
        spelled = page.evaluate("bytes => growrWallet.b58encode(new Uint8Array(bytes))", list(data))
        assert spelled == b58encode(data), data
    for _ in range(5):
        key = Ed25519Key.generate()
        did = page.evaluate(
            "bytes => growrWallet.didFromPublicKey(new Uint8Array(bytes))", list(key.public_key)
        )
        assert did == key.did
