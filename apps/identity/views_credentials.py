"""The originator staff's credentials pages: what the organization issued, issuing one or a CSV
of many, revoking, and whom this node trusts. Thin: services and selectors do the work."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from . import credential_selectors as selectors
from . import credential_services
from .credential_services import MAX_CSV_BYTES
from .forms_credentials import (
    CredentialBulkForm,
    CredentialFilterForm,
    CredentialIssueForm,
    CredentialRevokeForm,
    CredentialTypeForm,
)
from .models import CredentialRecord, Role
from .permissions import ORIGINATOR_ADMIN_ONLY, portal_required, role_required
from .ssi.credential_types import CREDENTIAL_TYPES

CREDENTIALS_PAGE = 25


@portal_required("staff")
def credentials(request: HttpRequest) -> HttpResponse:
    filter_form = CredentialFilterForm(request.GET or None)
    filters = filter_form.filters()
    records = selectors.organization_credentials_listed(
        organization=request.user.organization, **filters
    )
    context = {
        "organization": request.user.organization,
        "filter_form": filter_form,
        "filtered": any(filters.values()),
        "page": Paginator(records, CREDENTIALS_PAGE).get_page(request.GET.get("page")),
        "trusted_issuers": selectors.trusted_issuers(),
    }
    return render(request, "identity/credentials/list.html", context)


@portal_required("staff")
def credential_issue(request: HttpRequest) -> HttpResponse:
    slug = request.GET.get("type", "")
    credential_type = CREDENTIAL_TYPES.get(slug)
    if credential_type is None:
        # First step: choose the type; its fields come with the next page.
        type_form = CredentialTypeForm(request.GET if slug else None)
        context = {"type_form": type_form, "credential_types": list(CREDENTIAL_TYPES.values())}
        return render(request, "identity/credentials/issue.html", context)
    form = CredentialIssueForm(
        request.POST if request.method == "POST" else None, credential_type=credential_type
    )
    if request.method == "POST" and form.is_valid():
        holder = selectors.holder_by_email(email=form.cleaned_data["email"])
        if holder is None:
            form.add_error("email", "No account with this e-mail address.")
        else:
            try:
                credential_services.credential_issue(
                    issuer=request.user,
                    holder=holder,
                    credential_type=credential_type.slug,
                    claims=form.claims(),
                    valid_until=form.valid_until_moment(),
                )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, f"{credential_type.title} issued to {holder.email}.")
                return redirect("staff:credentials")
    context = {"form": form, "credential_type": credential_type}
    return render(request, "identity/credentials/issue.html", context)


class _UploadLimit(FileUploadHandler):
    """Stops keeping an uploaded file once it passes LIMIT bytes: the rest is read off the
    connection and thrown away, never stored in memory or on disk."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@csrf_exempt  # checked below, once the upload limit is in place (Django reads the body then)
@portal_required("staff")
def credential_bulk(request: HttpRequest) -> HttpResponse:
    limit = _UploadLimit(request, MAX_CSV_BYTES)
    request.upload_handlers.insert(0, limit)
    return _credential_bulk(request, limit)


@csrf_protect
def _credential_bulk(request: HttpRequest, limit: _UploadLimit) -> HttpResponse:
    form = CredentialBulkForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        too_large=limit.exceeded,
    )
    row_errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        result = credential_services.credentials_issue_csv(
            issuer=request.user, data=form.cleaned_data["file"].read(MAX_CSV_BYTES + 1)
        )
        if not result.errors:
            count = len(result.issued)
            messages.success(request, f"{count} credential{'s' if count != 1 else ''} issued.")
            return redirect("staff:credentials")
        row_errors = result.errors
    context = {
        "form": form,
        "row_errors": row_errors,
        "credential_types": list(CREDENTIAL_TYPES.values()),
    }
    return render(request, "identity/credentials/bulk.html", context)


@portal_required("staff")
def credential_bulk_template(request: HttpRequest) -> HttpResponse:
    credential_type = CREDENTIAL_TYPES.get(request.GET.get("type", ""))
    if credential_type is None:
        raise Http404("No such credential type.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="growr-credentials-{credential_type.slug}.csv"'
    )
    csv.writer(response).writerow(selectors.csv_columns(credential_type=credential_type))
    return response


def _issued_credential(request: HttpRequest, pk: int) -> CredentialRecord:
    record = selectors.organization_credential(organization=request.user.organization, pk=pk)
    if record is None:
        raise Http404("No such credential in your organization.")
    return record


def _detail(request: HttpRequest, record: CredentialRecord, form) -> HttpResponse:
    context = {
        "credential": record,
        "credential_type": CREDENTIAL_TYPES.get(record.credential_type),
        "claims": selectors.claim_rows(
            credential_type=record.credential_type, claims=record.claims
        ),
        "form": form,
    }
    return render(request, "identity/credentials/detail.html", context)


@portal_required("staff")
def credential_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = _issued_credential(request, pk)
    may_revoke = request.user.role == Role.ORIGINATOR_ADMIN and record.state != "revoked"
    return _detail(request, record, CredentialRevokeForm() if may_revoke else None)


@require_POST
@portal_required("staff")
@role_required(ORIGINATOR_ADMIN_ONLY)
def credential_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    record = _issued_credential(request, pk)
    if record.state == "revoked":
        messages.info(request, "This credential was revoked already.")
        return redirect("staff:credential", pk=record.pk)
    form = CredentialRevokeForm(request.POST)
    if not form.is_valid():
        return _detail(request, record, form)
    credential_services.credential_revoke(
        actor=request.user, credential=record, reason=form.cleaned_data["reason"]
    )
    messages.success(
        request,
        f"{record.type_title} of {record.holder.email} revoked: verifiers see it in the public "
        "status list.",
    )
    return redirect("staff:credentials")
