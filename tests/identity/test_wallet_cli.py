"""The command-line wallet against a real node over HTTP: Otieno brings his own key, moves his
account to it, and presents credentials he signs on his own machine."""

from __future__ import annotations

import json

import pytest

from apps.identity import credential_services
from apps.identity.models import PresentationRecord, Wallet
from apps.identity.ssi.wallet_cli import main

from .conftest import KYC_CLAIMS

PASSWORD = "correct horse battery staple"


@pytest.fixture
def run(capsys):
    def run(*argv) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out.strip(), captured.err.strip()

    return run


@pytest.mark.django_db(transaction=True)
def test_otieno_goes_self_custody_and_presents_from_the_command_line(
    live_server, run, tmp_path, amina, otieno
):
    wallet = tmp_path / "otieno.json"
    code, did, _ = run("keygen", wallet)
    assert code == 0 and did.startswith("did:key:z6Mk")
    assert oct(wallet.stat().st_mode & 0o777) == "0o600"

    assert (
        run(
            "login",
            wallet,
            "--node",
            live_server.url,
            "--email",
            otieno.email,
            "--password",
            PASSWORD,
        )[0]
        == 0
    )
    code, out, err = run("register", wallet)
    assert code == 0, err
    assert Wallet.objects.get(user=otieno).did == did

    for credential_type, claims in [("age", {"birthDate": "1988-07-14"}), ("kyc", KYC_CLAIMS)]:
        credential_services.credential_issue(
            issuer=amina, holder=otieno, credential_type=credential_type, claims=claims
        )
    code, listing, _ = run("credentials", wallet)
    assert "age" in listing and "kyc" in listing and "valid" in listing

    code, out, err = run(
        "present", wallet, "--request", json.dumps({"age": ["birthDate"], "kyc": ["nationality"]})
    )

    assert code == 0, err
    kept = {"age": {"birthDate": "1988-07-14"}, "kyc": {"nationality": "KE"}}
    assert out == f"verified; the node kept: {json.dumps(kept, sort_keys=True)}"
    assert PresentationRecord.objects.get().holder_did == did


@pytest.mark.django_db(transaction=True)
def test_the_wallet_explains_what_went_wrong(live_server, run, tmp_path, otieno):
    wallet = tmp_path / "w.json"
    run("keygen", wallet)

    assert (
        run("register", wallet)[2]
        == "growr-wallet: log in to a node first: growr-wallet login WALLET --node URL --email E"
    )
    code, _, err = run(
        "login", wallet, "--node", live_server.url, "--email", otieno.email, "--password", "wrong"
    )
    assert code == 1 and "E-mail or password is wrong." in err
    run("login", wallet, "--node", live_server.url, "--email", otieno.email, "--password", PASSWORD)
    code, _, err = run("present", wallet, "--request", '{"age": ["birthDate"]}')
    assert code == 1 and "no valid credential of type age" in err
    (tmp_path / "bad.jwk").write_text('{"kty": "RSA"}')
    assert "Ed25519" in run("import-key", tmp_path / "bad.jwk", wallet)[2]
