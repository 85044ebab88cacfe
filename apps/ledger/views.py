"""Staff pages "Public books" (what the node has published, and re-verification on demand) and
"Following" (the books of other nodes it follows)."""

from __future__ import annotations

import logging

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.identity.permissions import (
    ORIGINATOR_ADMIN_ONLY,
    has_role,
    portal_required,
    role_required,
)

from . import follow_services, selectors
from .models import Follow, FollowState, Log
from .tasks import follow_pull_task

logger = logging.getLogger(__name__)

LATEST_ENTRIES = 5


@portal_required("staff")
def books(request: HttpRequest) -> HttpResponse:
    logs = list(Log.objects.own().order_by("book"))
    rows = [
        {
            "log": log,
            "key": bytes(log.key).hex(),
            "signature": bytes(log.signature).hex(),
            "entries": selectors.book_latest_entries(log=log, limit=LATEST_ENTRIES),
        }
        for log in logs
    ]
    return render(request, "ledger/books.html", {"rows": rows})


@require_POST
@portal_required("staff")
def book_verify(request: HttpRequest, book: str) -> HttpResponse:
    log = Log.objects.own().filter(book=book).first()
    if log is None:
        raise Http404("This node has no such book.")
    result = selectors.log_verify(log=log)
    if result.ok:
        messages.success(
            request,
            f"{log.get_book_display()}: {result.blocks_checked} block(s), their tree and "
            "every signed head verify.",
        )
    else:
        messages.error(
            request,
            f"{log.get_book_display()}: verification FAILED after {result.blocks_checked} "
            f"blocks: {result.problem}.",
        )
    return redirect("ledger:books")


class FollowForm(forms.Form):
    key = forms.RegexField(
        label="Book key",
        regex=r"^[0-9a-f]{64}$",
        error_messages={"invalid": "A book key is 64 lowercase hex characters."},
    )
    url = forms.URLField(
        label="Served at",
        help_text="Base URL of a node serving the book, e.g. https://node.example",
        assume_scheme="https",
    )
    kind = forms.CharField(label="Book", initial="projects", max_length=32)
    keep_latest = forms.IntegerField(
        label="Keep only the newest blocks",
        required=False,
        min_value=1,
        max_value=1000,
        help_text="Leave empty to keep the whole book (and serve it to others).",
    )


@portal_required("staff")
def following(request: HttpRequest) -> HttpResponse:
    return _following_page(request, FollowForm())


@require_POST
@portal_required("staff")
@role_required(ORIGINATOR_ADMIN_ONLY)
def follow_add(request: HttpRequest) -> HttpResponse:
    form = FollowForm(request.POST)
    if not form.is_valid():
        return _following_page(request, form, status=400)
    try:
        follow = follow_services.follow_start(
            key=bytes.fromhex(form.cleaned_data["key"]),
            kind=form.cleaned_data["kind"],
            sources=[form.cleaned_data["url"]],
            chosen_by=request.user,
            keep_latest=form.cleaned_data["keep_latest"],
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _following_page(request, form, status=400)
    if _pull_soon(follow):
        messages.success(request, "Following the book; its blocks arrive as they are verified.")
    else:
        messages.warning(request, f"Following the book. {WORKER_OUT_OF_REACH}")
    return redirect("ledger:following")


WORKER_OUT_OF_REACH = (
    "The worker cannot be asked right now (its broker is out of reach): the book is pulled at "
    "the next poll once it is back."
)


def _pull_soon(follow: Follow) -> bool:
    """Ask the worker to pull FOLLOW now; False when the broker is out of reach (beat's poll
    pulls every active follow anyway)."""
    try:
        follow_pull_task.delay(follow.pk)
    except Exception:  # kombu raises a transport's own errors
        logger.warning("could not ask for a pull of follow %s", follow.pk, exc_info=True)
        return False
    return True


@require_POST
@portal_required("staff")
@role_required(ORIGINATOR_ADMIN_ONLY)
def follow_change(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    follow = Follow.objects.select_related("log").filter(pk=pk).first()
    if follow is None:
        raise Http404("This node does not follow that book.")
    try:
        if action == "unfollow":
            follow_services.follow_stop(follow=follow)
        elif action == "pull":
            if not _pull_soon(follow):
                messages.error(request, f"Not pulled now. {WORKER_OUT_OF_REACH}")
                return redirect("ledger:following")
        else:
            state = FollowState.PAUSED if action == "pause" else FollowState.ACTIVE
            follow_services.follow_set_state(follow=follow, state=state)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, FOLLOW_ACTIONS[action])
    return redirect("ledger:following")


FOLLOW_ACTIONS = {
    "pause": "Paused: no more blocks are pulled until you resume.",
    "resume": "Resumed.",
    "pull": "A pull was asked for; new blocks appear once verified.",
    "unfollow": "Unfollowed: the book and its blocks are gone from this node.",
}


def _following_page(request: HttpRequest, form: FollowForm, *, status: int = 200):
    rows, events, forks = selectors.following_view()
    context = {
        "rows": rows,
        "events": events,
        "forks": forks,
        "form": form,
        "can_manage": has_role(request.user, ORIGINATOR_ADMIN_ONLY),
    }
    return render(request, "ledger/following.html", context, status=status)
