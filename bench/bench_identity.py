"""Benchmark: presentation and SD-JWT verification, beside didkit's and sd-jwt's own verify.

A presentation here carries two credentials (age and monthly income, W3C VCs with
Ed25519Signature2020 proofs) in a JWT VP bound to a challenge and domain. The reference is
didkit 0.3.3 verifying the same thing on its own: verify_presentation for the VP and
verify_credential for each credential (didkit's verify_presentation does not check the proofs
of the credentials inside). Figures, all on one core (the process is pinned to CPU 0):

- core, cold: apps.identity.ssi.presentation.verify_presentation with the node's proof cache
  emptied before every presentation, so both credential proofs are checked by didkit again;
  trust and status answered from memory. Overhead = (core - didkit) / didkit.
- core, warm: the same credentials presented again (the cache skips their JSON-LD proofs).
- node, cold / warm: the whole service against PostgreSQL: the challenge used up, the trusted
  issuers and status lists read, the presentation record written (credential_services.
  presentation_verify), one fresh challenge per presentation.
- SD-JWT: a KYC SD-JWT with one disclosed claim and key binding, through read_sd_jwt, beside
  the sd-jwt package's verifier alone on the same token.

Uses DATABASE_URL if it names PostgreSQL, else postgres://postgres@127.0.0.1:5432/growr_bench_identity.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("BENCH_PRESENTATIONS", "600"))


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        return url
    return "postgres://postgres@127.0.0.1:5432/growr_bench_identity"


def _setup_django() -> None:
    import psycopg

    url = _database_url()
    name, admin = url.rsplit("/", 1)[1], url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "growr_site.settings.local")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("flush", "--no-input", verbosity=0)
    call_command("migrate", verbosity=0)


def _rates(functions: dict, total: int, chunk: int = 50) -> dict[str, float]:
    """Calls per second of each function: the median over chunks run in turn (one chunk of each,
    then again), so a slow moment of the machine hits every figure alike."""
    for function in functions.values():
        function()  # warm-up: imports, connections, contexts
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(total // chunk):
        for name, function in functions.items():
            started = time.perf_counter()
            for _ in range(chunk):
                function()
            samples[name].append(chunk / (time.perf_counter() - started))
    return {name: statistics.median(rates) for name, rates in samples.items()}


def _people():
    from apps.identity import credential_services, services
    from apps.identity.models import Organization, Role, User

    services.organization_create(
        name="Kijani Microfinance",
        admin_email="amina@kijani.example",
        admin_full_name="Amina Wekesa",
        admin_password="bench-password-123",  # noqa: S106 - a throwaway bench database
    )
    amina = User.objects.get(email="amina@kijani.example")
    wanjiru = services.user_self_register(
        email="wanjiru@example.org",
        full_name="Wanjiru Kamau",
        password="bench-password-123",  # noqa: S106
        role=Role.BORROWER,
    )
    issue = credential_services.credential_issue
    records = [
        issue(
            issuer=amina, holder=wanjiru, credential_type="age", claims={"birthDate": "1990-02-03"}
        ),
        issue(
            issuer=amina,
            holder=wanjiru,
            credential_type="monthly_income",
            claims={"monthlyIncome": {"amount": "320.00", "currency": "KES"}},
        ),
        issue(
            issuer=amina,
            holder=wanjiru,
            credential_type="kyc",
            claims={
                "given_name": "Wanjiru",
                "family_name": "Kamau",
                "birthdate": "1990-02-03",
                "nationality": "KE",
                "address": "Plot 12, Nakuru",
                "id_number": "23456789",
            },
        ),
    ]
    assert Organization.objects.count() == 1
    return wanjiru, records


def main() -> None:
    os.sched_setaffinity(0, {0})
    _setup_django()
    import didkit

    from apps.identity import credential_services, wallet_services
    from apps.identity.credential_selectors import node_domain, status_lookup, trusted_issuer_dids
    from apps.identity.ssi import credentials as vc
    from apps.identity.ssi import ldp, sdjwt
    from apps.identity.ssi.presentation import build_presentation, verify_presentation

    wanjiru, (age, income, kyc) = _people()
    key = wallet_services.custodial_key(wallet=wallet_services.wallet_of_user(user=wanjiru))
    domain = node_domain()
    request = {"age": ["birthDate"], "monthly_income": ["monthlyIncome"]}

    def envelope_for(nonce: str) -> dict:
        return build_presentation(
            holder_key=key,
            ldp_documents=[age.document, income.document],
            sd_jwt_disclosures=[],
            challenge=nonce,
            domain=domain,
        )

    fixed = envelope_for("bench-challenge")
    documents = [age.document, income.document]
    refs = [vc.read_ldp(d).status for d in documents]
    context = vc.TrustContext(
        now=age.valid_from.__class__.now(age.valid_from.tzinfo),
        is_trusted_issuer=trusted_issuer_dids().__contains__,
        status_bit=status_lookup(refs),
    )

    def didkit_reference():
        errors = ldp.verify_presentation_jwt(
            fixed["presentation"], challenge="bench-challenge", domain=domain
        )
        for document in documents:
            errors += ldp._verify_credential_uncached(document)
        assert not errors, errors

    def core_cold():
        ldp.proof_cache.clear()
        verify_presentation(
            fixed, challenge="bench-challenge", domain=domain, context=context, request=request
        )

    def core_warm():
        verify_presentation(
            fixed, challenge="bench-challenge", domain=domain, context=context, request=request
        )

    def node(clear: bool):
        challenges = [
            credential_services.presentation_challenge_issue(user=wanjiru, request=request)
            for _ in range(ROUNDS + 1)
        ]
        envelopes = iter([envelope_for(c.nonce) for c in challenges])

        def verify_one():
            if clear:
                ldp.proof_cache.clear()
            outcome = credential_services.presentation_verify(
                envelope=next(envelopes), user=wanjiru
            )
            assert outcome.verified, outcome.reason

        return verify_one

    shown = sdjwt.present_sd_jwt(
        issuance=kyc.document, disclose=["nationality"], holder_key=key, nonce="n", audience=domain
    )
    issuer_jwk = sdjwt._public_jwk_of(kyc.issuer_did)

    def sd_jwt_reference():
        sdjwt._EdDSAVerifier(
            shown, lambda iss, header: issuer_jwk, expected_aud=domain, expected_nonce="n"
        ).get_verified_payload()

    def sd_jwt_ours():
        vc.read_sd_jwt(shown, nonce="n", audience=domain)

    rates = _rates(
        {
            "didkit verify (reference)": didkit_reference,
            "core, cold cache": core_cold,
            "core, warm cache": core_warm,
            "node + PostgreSQL, cold": node(True),
            "node + PostgreSQL, warm": node(False),
        },
        ROUNDS,
    )
    reference = rates.pop("didkit verify (reference)")
    print(f"didkit {didkit.get_version()}; {ROUNDS} presentations of 2 credentials each, on CPU 0")
    print(f"{'figure':<28}{'presentations/s':>17}{'ratio to didkit':>17}{'overhead':>10}")
    print(f"{'didkit verify (reference)':<28}{reference:>17,.0f}{1:>17.2f}{'':>10}")
    for name, rate in rates.items():
        overhead = (reference / rate - 1) * 100
        print(f"{name:<28}{rate:>17,.0f}{rate / reference:>17.2f}{overhead:>9.1f}%")
    sd = _rates({"reference": sd_jwt_reference, "ours": sd_jwt_ours}, ROUNDS)
    print(f"{'sd-jwt verifier (reference)':<28}{sd['reference']:>17,.0f}{1:>17.2f}")
    print(
        f"{'read_sd_jwt':<28}{sd['ours']:>17,.0f}{sd['ours'] / sd['reference']:>17.2f}"
        f"{(sd['reference'] / sd['ours'] - 1) * 100:>9.1f}%"
    )
    sys.stdout.flush()
    # didkit's runtime can abort the interpreter at exit (a PyGILState_Release race).
    os._exit(0)


if __name__ == "__main__":
    main()
