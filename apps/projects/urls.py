"""Project pages: the staff's (under /staff/projects/, namespace "projects") and the public
project page (under /projects/). The borrower's list is in the borrow portal (borrow:projects)."""

from django.urls import path

from . import views_public, views_staff

app_name = "projects"

urlpatterns = [
    path("", views_staff.project_list, name="list"),
    path("new/", views_staff.project_new, name="new"),
    path("criteria/preview/", views_staff.criteria_preview, name="criteria-preview"),
    path("<uuid:pk>/", views_staff.project_detail, name="detail"),
    path("<uuid:pk>/edit/", views_staff.project_edit, name="edit"),
    path("<uuid:pk>/image/", views_staff.project_staff_image, name="image"),
    path("<uuid:pk>/amend/", views_staff.project_amend, name="amend"),
    path(
        "<uuid:pk>/<str:move>/",
        views_staff.project_move,
        name="move",
    ),
]

public_patterns = [
    path("<uuid:pk>/", views_public.project_page, name="project-page"),
    path("<uuid:pk>/image/", views_public.project_image, name="project-image"),
]
