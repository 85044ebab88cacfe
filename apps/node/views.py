"""The health endpoint, the node's error pages, its OpenAPI document and the load benchmark's
reference view."""

from __future__ import annotations

from typing import ClassVar

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.views import SpectacularAPIView
from rest_framework.response import Response

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


class SchemaView(SpectacularAPIView):
    """The OpenAPI document, made once per process and version. It follows from the code alone,
    the same for every caller, and making it costs a tenth of a second of CPU or more: anyone
    asking for it in a loop would otherwise keep a web process busy for free. One asked in
    another language (?lang=) is made each time, so made-up languages fill no memory."""

    _documents: ClassVar[dict[str | None, dict]] = {}

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        document = None if request.GET.get("lang") else self._documents.get(version)
        if document is None:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            document = generator.get_schema(request=request, public=self.serve_public)
            if not request.GET.get("lang"):
                self._documents[version] = document
        filename = self._get_filename(request, version)
        return Response(
            data=document,
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )
