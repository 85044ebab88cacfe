"""The borrower's credit record and wallet: credentials listed, downloaded, imported and
presented; the wallet's DID and history, the custodial key's export and the move to
self-custody. Thin: services do the work, the browser signs for self-custody wallets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import credential_selectors as selectors
from . import credential_services, wallet_services
from .credential_selectors import CreditRecordEntry
from .forms_wallet import (
    SD_JWT_DOWNLOAD_FORMAT,
    CredentialImportForm,
    KeyExportForm,
    PresentForm,
)
from .models import Challenge, CredentialRecord, Custody
from .permissions import portal_required
from .ssi.credential_types import CREDENTIAL_TYPES, SD_JWT
from .views import _add_service_errors

CHECK_LABELS = {
    "format": "Format",
    "challenge": "Challenge",
    "signature": "Signature",
    "holder_binding": "Holder binding (the credentials are yours)",
    "schema": "Schema",
    "issuer_trust": "Trusted issuer",
    "validity": "Validity period",
    "revocation": "Revocation",
    "request": "What the node asked for",
}
# A proof of control is a short JWS; a presentation carries at most ten credentials.
MAX_PROOF_BYTES = 16 * 1024
MAX_ENVELOPE_BYTES = 1024 * 1024


# --- display helpers ------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialRow:
    entry: CreditRecordEntry
    title: str
    claims: list[tuple[str, str]]
    earlier_did: bool  # issued to a DID the wallet no longer has: it no longer presents

    @property
    def record(self) -> CredentialRecord:
        return self.entry.record


def _rows(entries: list[CreditRecordEntry], did: str) -> list[CredentialRow]:
    return [
        CredentialRow(
            entry=entry,
            title=entry.record.type_title,
            claims=selectors.claim_rows(
                credential_type=entry.record.credential_type, claims=entry.record.claims
            ),
            earlier_did=entry.record.holder_did != did,
        )
        for entry in entries
    ]


def _download_value(record: CredentialRecord) -> object:
    if record.format == SD_JWT:
        return {"format": SD_JWT_DOWNLOAD_FORMAT, "credential": record.document}
    return record.document


def _json_attachment(value: object, filename: str) -> JsonResponse:
    response = JsonResponse(value, safe=False, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _json_body(request: HttpRequest, limit: int) -> object:
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        raise ValueError(f"The request is larger than {limit // 1024} KB.")
    try:
        return json.loads(request.body)
    except (ValueError, RecursionError) as exc:
        raise ValueError("The request is not JSON.") from exc


# --- the credit record ----------------------------------------------------------------------


@portal_required("borrow")
def credentials(request: HttpRequest) -> HttpResponse:
    wallet = wallet_services.wallet_of_user(user=request.user)
    entries = selectors.credit_record(holder=request.user)
    context = {"wallet": wallet, "rows": _rows(entries, wallet.did)}
    return render(request, "identity/wallet/credentials.html", context)


@never_cache
@portal_required("borrow")
def credential_download(request: HttpRequest, pk: int) -> HttpResponse:
    record = selectors.holder_credential(holder=request.user, pk=pk)
    if record is None:
        raise Http404("No such credential in your record.")
    filename = f"growr-{record.credential_type}-{record.pk}.json"
    return _json_attachment(_download_value(record), filename)


@never_cache
@portal_required("borrow")
def credit_record_download(request: HttpRequest) -> HttpResponse:
    wallet = wallet_services.wallet_of_user(user=request.user)
    records = selectors.holder_credential_documents(holder=request.user)
    value = {"holder": wallet.did, "credentials": [_download_value(r) for r in records]}
    return _json_attachment(value, "growr-credit-record.json")


@portal_required("borrow")
def credential_import(request: HttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    form = CredentialImportForm(request.POST if posted else None, request.FILES if posted else None)
    if request.method == "POST" and form.is_valid():
        try:
            record = credential_services.credential_import(
                holder=request.user, credential=form.cleaned_data["credential"]
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, f"{record.type_title} added to your record.")
            return redirect("borrow:credentials")
    return render(request, "identity/wallet/import.html", {"form": form})


# --- presenting -----------------------------------------------------------------------------


def _result_context(outcome: credential_services.PresentationOutcome) -> dict:
    disclosed = outcome.record.disclosed if outcome.verified else {}
    kept = [
        (CREDENTIAL_TYPES[slug].title, selectors.claim_rows(credential_type=slug, claims=claims))
        for slug, claims in disclosed.items()
    ]
    check_label = CHECK_LABELS.get(outcome.failed_check, outcome.failed_check)
    return {"outcome": outcome, "kept": kept, "check_label": check_label}


@portal_required("borrow")
def present(request: HttpRequest) -> HttpResponse:
    wallet = wallet_services.wallet_of_user(user=request.user)
    form = PresentForm(
        request.POST if request.method == "POST" else None,
        entries=selectors.credit_record(holder=request.user),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            challenge = credential_services.presentation_challenge_issue(
                user=request.user, request=data["request"]
            )
            if wallet.custody == Custody.CUSTODIAL:
                envelope = credential_services.presentation_build_custodial(
                    holder=request.user,
                    nonce=challenge.nonce,
                    credential_ids=data["credential_ids"],
                    disclose=data["disclose"],
                )
                outcome = credential_services.presentation_verify(
                    envelope=envelope, user=request.user
                )
                return render(
                    request, "identity/wallet/present_result.html", _result_context(outcome)
                )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            return _present_in_browser(request, wallet, challenge, form)
    context = {"form": form, "choices": form.choices(), "wallet": wallet}
    return render(request, "identity/wallet/present.html", context)


def _present_in_browser(request, wallet, challenge: Challenge, form: PresentForm) -> HttpResponse:
    """A self-custody wallet signs in the browser: the page gets the challenge and the chosen
    credentials, the key stays in the browser."""
    records = [form.records[pk] for pk in form.cleaned_data["credential_ids"]]
    disclose = form.cleaned_data["disclose"]
    to_sign = {
        "did": wallet.did,
        "nonce": challenge.nonce,
        "domain": challenge.domain,
        "ldp": [r.document for r in records if r.format != SD_JWT],
        "sd_jwt": [
            {"credential": r.document, "disclose": disclose[r.pk]}
            for r in records
            if r.format == SD_JWT
        ],
        "verify_url": reverse("borrow:present-verify"),
    }
    context = {
        "wallet": wallet,
        "to_sign": to_sign,
        "titles": [r.type_title for r in records],
        "expires_at": challenge.expires_at,
    }
    return render(request, "identity/wallet/present_sign.html", context)


@require_POST
@portal_required("borrow")
def present_verify(request: HttpRequest) -> HttpResponse:
    """Verify a presentation the browser signed; answers JSON with the result as HTML too."""
    try:
        envelope = _json_body(request, MAX_ENVELOPE_BYTES)
    except ValueError as exc:
        return JsonResponse(
            {"verified": False, "failed_check": "format", "reason": str(exc)}, status=400
        )
    outcome = credential_services.presentation_verify(envelope=envelope, user=request.user)
    context = _result_context(outcome)
    return JsonResponse(
        {
            "verified": outcome.verified,
            "failed_check": outcome.failed_check,
            "reason": outcome.reason,
            "disclosed": outcome.record.disclosed if outcome.verified else {},
            "html": render_to_string(
                "identity/wallet/_present_result.html", context, request=request
            ),
        }
    )


# --- the wallet -----------------------------------------------------------------------------


@portal_required("borrow")
def wallet(request: HttpRequest) -> HttpResponse:
    wallet = wallet_services.wallet_of_user(user=request.user)
    context = {
        "wallet": wallet,
        "custodial": wallet.custody == Custody.CUSTODIAL,
        "events": selectors.wallet_history(wallet=wallet),
    }
    return render(request, "identity/wallet/wallet.html", context)


@never_cache
@portal_required("borrow")
def wallet_export(request: HttpRequest) -> HttpResponse:
    wallet = wallet_services.wallet_of_user(user=request.user)
    form = KeyExportForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            jwk = wallet_services.wallet_key_export(
                user=request.user, password=form.cleaned_data["password"]
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            text = json.dumps(jwk, indent=2)
            context = {
                "wallet": wallet,
                "jwk_text": text,
                "jwk_href": "data:application/json;charset=utf-8," + quote(text),
            }
            return render(request, "identity/wallet/export_done.html", context)
    context = {"wallet": wallet, "form": form, "custodial": wallet.custody == Custody.CUSTODIAL}
    return render(request, "identity/wallet/export.html", context)


@portal_required("borrow")
def wallet_self_custody(request: HttpRequest) -> HttpResponse:
    wallet = wallet_services.wallet_of_user(user=request.user)
    context = {
        "wallet": wallet,
        "custodial": wallet.custody == Custody.CUSTODIAL,
        "credential_count": selectors.credit_record_size(holder=request.user),
    }
    return render(request, "identity/wallet/self_custody.html", context)


@require_POST
@portal_required("borrow")
def wallet_challenge(request: HttpRequest) -> HttpResponse:
    """A did_control challenge for the browser to sign with the key it holds."""
    challenge = wallet_services.challenge_issue(
        user=request.user, purpose=Challenge.Purpose.DID_CONTROL
    )
    return JsonResponse(
        {
            "nonce": challenge.nonce,
            "domain": challenge.domain,
            "purpose": challenge.purpose,
            "expires_at": challenge.expires_at.isoformat(),
        }
    )


@require_POST
@portal_required("borrow")
def wallet_self_custody_register(request: HttpRequest) -> HttpResponse:
    """The browser's signed answer to a did_control challenge: the wallet moves to that DID."""
    try:
        body = _json_body(request, MAX_PROOF_BYTES)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    proof = body.get("proof") if isinstance(body, dict) else None
    if not isinstance(proof, str):
        return JsonResponse({"error": 'Send {"proof": "<compact JWS>"}.'}, status=400)
    try:
        wallet = wallet_services.wallet_self_custody_register(user=request.user, proof=proof)
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    messages.success(request, "Your wallet is in self-custody now: the key stays in your browser.")
    return JsonResponse(
        {"did": wallet.did, "custody": wallet.custody, "wallet_url": reverse("borrow:wallet")}
    )
