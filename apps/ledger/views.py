"""Staff page "Public books": what the node has published, and re-verification on demand."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.identity.permissions import portal_required

from . import selectors
from .models import Log

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
