"""Funding another node's project from this node: the investor's commitment is signed here and
sent to the originator's node; its state comes back through the followed funding book."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.identity.permissions import portal_required

from . import selectors, services


class RemoteCommitmentForm(forms.Form):
    amount = forms.DecimalField(label="Amount", max_digits=18, decimal_places=4, min_value=0)
    request_id = forms.CharField(widget=forms.HiddenInput, max_length=64)


def _project_or_404(book_key: str, project_id):
    project = selectors.network_project(book_key=book_key, project_id=project_id)
    if project is None or project.project.own:
        raise Http404("This node holds no such project of another node.")
    return project


@portal_required("invest")
def network_project_fund(request: HttpRequest, book_key: str, project_id) -> HttpResponse:
    """Commit to a project of another node, signed with the investor's key on this node."""
    project = _project_or_404(book_key, project_id)
    form = RemoteCommitmentForm(
        request.POST or None, initial={"request_id": secrets.token_urlsafe(16)}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.remote_commitment_send(
                investor=request.user,
                book_key=book_key,
                project_id=project_id,
                amount=form.cleaned_data["amount"],
                request_id=form.cleaned_data["request_id"],
            )
        except ValidationError as error:
            for field, texts in error.message_dict.items():
                form.add_error(field if field in form.fields else None, texts)
        else:
            messages.success(
                request, f"Your commitment was sent to {project.origin_name} and accepted."
            )
            return redirect("invest:network-commitments")
    context = {"item": project, "terms": project.project.value.get("terms") or {}, "form": form}
    return render(request, "funding/network_fund.html", context)


@portal_required("invest")
def network_commitments(request: HttpRequest) -> HttpResponse:
    positions = selectors.remote_commitments(investor=request.user)
    return render(request, "funding/network_commitments.html", {"positions": positions})
