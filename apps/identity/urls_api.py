from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenApi.as_view(), name="api-token"),
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("staff/team/", api.TeamApi.as_view(), name="api-staff-team"),
    path(
        "staff/invitations/",
        api.InvitationListCreateApi.as_view(),
        name="api-staff-invitations",
    ),
]
