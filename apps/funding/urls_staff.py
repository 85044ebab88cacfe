"""The originator staff's funding pages, under /staff/funding/ (namespace "funding_staff")."""

from django.urls import path

from . import views_staff

app_name = "funding_staff"

urlpatterns = [
    path("", views_staff.funding_overview, name="overview"),
    path("to-confirm/", views_staff.funds_to_confirm, name="pending"),
    path("refunds/", views_staff.refunds, name="refunds"),
    path("projects/<uuid:pk>/", views_staff.project_funding, name="project"),
    path(
        "commitments/<uuid:public_id>/confirm/",
        views_staff.commitment_confirm,
        name="confirm",
    ),
    path(
        "commitments/<uuid:public_id>/refund/",
        views_staff.commitment_refund,
        name="refund",
    ),
]
