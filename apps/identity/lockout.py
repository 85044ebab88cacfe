"""What a locked-out sign-in sees (django-axes AXES_LOCKOUT_CALLABLE): JSON for the API, a page
for people."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

LOCKED_OUT_STATUS = 429


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "error": {
                    "code": "locked_out",
                    "message": f"Too many failed sign-ins; try again in {minutes} minutes.",
                }
            },
            status=LOCKED_OUT_STATUS,
        )
    return render(
        request, "registration/locked_out.html", {"minutes": minutes}, status=LOCKED_OUT_STATUS
    )
