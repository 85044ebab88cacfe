"""The public verification of a signed agreement, a loan's or an investment's: anyone, signed in
or not, uploads or pastes the file and sees from it alone who the parties are and whether each
signature holds."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from .agreement import InvalidAgreement, verify_signed_agreement
from .agreement_text import describe
from .forms_borrower import AgreementVerifyForm


@require_http_methods(["GET", "HEAD", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    form = AgreementVerifyForm(request.POST if posted else None, request.FILES if posted else None)
    result = None
    if posted and form.is_valid():
        try:
            verified = verify_signed_agreement(form.cleaned_data["signed"])
        except InvalidAgreement as exc:
            form.add_error(
                None, f"This is not a signed Growr loan agreement or investment agreement: {exc}."
            )
        except RecursionError:
            form.add_error(None, "This file is nested too deeply to be an agreement.")
        else:
            text = describe(verified.document)
            result = {
                "verified": verified,
                "text": text,
                "checks": [(text.role_label(check.role), check) for check in verified.signatures],
            }
    return render(request, "applications/verify.html", {"form": form, "result": result})
