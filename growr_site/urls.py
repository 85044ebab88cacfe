"""URL map of a Growr node: the three portals, accounts, admin, API and health."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from apps.funding.urls import public_patterns as funding_public_patterns
from apps.identity import views as identity_views
from apps.identity.urls_portals import borrow_patterns, invest_patterns, staff_patterns
from apps.node import views as node_views
from apps.projects.urls import public_patterns as project_public_patterns

urlpatterns = [
    path("", identity_views.landing, name="landing"),
    path("home/", identity_views.home, name="home"),
    path("notifications/", identity_views.notifications, name="notifications"),
    path("notifications/read/", identity_views.notifications_read, name="notifications-read"),
    path("accounts/", include("apps.identity.urls")),
    path("staff/", include(staff_patterns)),
    path("staff/books/", include("apps.ledger.urls")),
    path("staff/network/", include("apps.discovery.urls")),
    path("staff/projects/", include("apps.projects.urls")),
    path("staff/loans/", include("apps.applications.urls_staff")),
    path("staff/funding/", include("apps.funding.urls_staff")),
    path("staff/funding/invitations/", include("apps.funding.urls_invitations")),
    path("borrow/", include(borrow_patterns)),
    path("borrow/loans/", include("apps.applications.urls_borrower")),
    path("invest/", include(invest_patterns)),
    path("projects/", include(project_public_patterns)),
    path("projects/", include(funding_public_patterns)),
    path("agreements/", include("apps.applications.urls_public")),
    path("admin/", admin.site.urls),
    path("api/", include("apps.identity.urls_api")),
    path("api/", include("apps.ledger.urls_api")),
    # Before projects: its staff/projects/<id>/<move>/ would take staff/projects/<id>/commitments/.
    path("api/", include("apps.funding.urls_api")),
    path("api/", include("apps.projects.urls_api")),
    path("api/", include("apps.applications.urls_api")),
    path("api/", include("apps.funding.urls_remote")),
    path("api/schema/", node_views.SchemaView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, not inline: the CSP allows
    # scripts from this node only (apps/node/middleware.py). No Redoc page: it fetches its
    # logo and fonts from CDNs at run time and writes inline styles.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("health/", node_views.health, name="health"),
]
if settings.GROWR_BENCH_TRIVIAL_VIEW:
    urlpatterns.append(path("bench/trivial/", node_views.bench_trivial, name="bench-trivial"))

handler403 = "apps.node.views.permission_denied"
handler404 = "apps.node.views.page_not_found"
handler500 = "apps.node.views.server_error"
