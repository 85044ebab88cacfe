"""Investor portal pages."""

from __future__ import annotations

import math

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.identity.permissions import portal_required

from . import selectors


@portal_required("invest")
def network_catalogue(request: HttpRequest) -> HttpResponse:
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    projects, total = selectors.network_catalogue(page=page)
    pages = max(math.ceil(total / selectors.CATALOGUE_PAGE), 1)
    context = {"projects": projects, "total": total, "page": page, "pages": pages}
    return render(request, "funding/catalogue.html", context)
