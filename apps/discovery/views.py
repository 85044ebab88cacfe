"""Staff page "Network": the nodes this node knows through gossip, live, and the admin's
choices of seeds and followed books."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.identity.permissions import ORIGINATOR_ADMIN_ONLY, has_role, portal_required

from . import selectors, services
from .live import network_live_update


class SeedForm(forms.Form):
    address = forms.CharField(
        label="Seed address",
        max_length=262,
        help_text="HOST:PORT of a node's gossip service, e.g. seed.growr.example:7946",
    )


class BanForm(forms.Form):
    node_id = forms.RegexField(
        label="Node", regex=r"^[0-9a-f]{64}$", error_messages={"invalid": "Choose a known node."}
    )
    reason = forms.CharField(label="Reason", max_length=200)


@portal_required("staff")
def network(request: HttpRequest) -> HttpResponse:
    return _page(request)


@never_cache
@require_GET
@portal_required("staff")
def network_live(request: HttpRequest) -> JsonResponse:
    """The page's live part, for a page whose WebSocket is down."""
    return JsonResponse(network_live_update())


@require_POST
@portal_required("staff")
def node_ban(request: HttpRequest) -> HttpResponse:
    form = BanForm(request.POST)
    if not form.is_valid():
        return _page(request, ban_form=form, status=400)
    try:
        services.node_ban(
            node_id=bytes.fromhex(form.cleaned_data["node_id"]),
            reason=form.cleaned_data["reason"],
            banned_by=request.user,
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _page(request, ban_form=form, status=400)
    messages.success(request, "Node banned; the agent stops talking to it within seconds.")
    return redirect("discovery:network")


@require_POST
@portal_required("staff")
def node_ban_lift(request: HttpRequest, node_id: str) -> HttpResponse:
    services.node_ban_lift(node_id=bytes.fromhex(node_id), lifted_by=request.user)
    messages.success(request, "Ban lifted.")
    return redirect("discovery:network")


@require_POST
@portal_required("staff")
def seed_add(request: HttpRequest) -> HttpResponse:
    form = SeedForm(request.POST)
    if not form.is_valid():
        return _page(request, seed_form=form, status=400)
    try:
        seed = services.seed_add(address=form.cleaned_data["address"], added_by=request.user)
    except ValidationError as error:
        form.add_error("address", error)
        return _page(request, seed_form=form, status=400)
    messages.success(request, f"Seed {seed} added; the agent joins through it when it restarts.")
    return redirect("discovery:network")


@require_POST
@portal_required("staff")
def seed_remove(request: HttpRequest, pk: int) -> HttpResponse:
    services.seed_remove(seed_id=pk, removed_by=request.user)
    messages.success(request, "Seed removed.")
    return redirect("discovery:network")


@require_POST
@portal_required("staff")
def book_follow(request: HttpRequest, key: str) -> HttpResponse:
    try:
        follow = services.book_follow(key=bytes.fromhex(key), chosen_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"This node now follows the {follow.log.book} book {key[:16]}….")
    return redirect("discovery:network")


@require_POST
@portal_required("staff")
def book_unfollow(request: HttpRequest, key: str) -> HttpResponse:
    services.book_unfollow(key=bytes.fromhex(key), chosen_by=request.user)
    messages.success(request, f"This node no longer follows the book {key[:16]}….")
    return redirect("discovery:network")


def _page(
    request: HttpRequest,
    *,
    seed_form: SeedForm | None = None,
    ban_form: BanForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "view": selectors.network_view(),
        "form": seed_form or SeedForm(),
        "ban_form": ban_form or BanForm(),
        "can_manage": has_role(request.user, ORIGINATOR_ADMIN_ONLY),
    }
    return render(request, "discovery/network.html", context, status=status)
