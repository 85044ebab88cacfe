"""Funding's public routes beside a project's page (under /projects/): committing to it and its
funding figures. The investor portal's pages are in identity.urls_portals (namespace "invest")."""

from django.urls import path

from . import views

public_patterns = [
    path("<uuid:pk>/commit/", views.project_commit, name="project-commit"),
    path("<uuid:pk>/funding.json", views.project_funding_json, name="project-funding"),
]
