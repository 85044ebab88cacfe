"""The health endpoint, the node's error pages and the load benchmark's reference view."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import node_health


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    report = node_health()
    return JsonResponse(report.as_dict(), status=200 if report.ok else 503)


@require_GET
def bench_trivial(request: HttpRequest) -> HttpResponse:
    """The least a Django page costs: bench/bench_load.py's reference (GROWR_BENCH_TRIVIAL_VIEW)."""
    return HttpResponse("ok", content_type="text/plain")


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_page(request, 403, "You do not have access to this page.", exception)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_page(request, 404, "This page does not exist.", None)


def server_error(request: HttpRequest) -> HttpResponse:
    return _error_page(request, 500, "Something went wrong on our side. Please try again.", None)


def _error_page(request: HttpRequest, status: int, message: str, exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": str(status), "message": message}}, status=status)
    detail = str(exception) if exception and str(exception) else ""
    return render(
        request,
        "error.html",
        {"status": status, "message": message, "detail": detail},
        status=status,
    )
