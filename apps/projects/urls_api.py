from django.urls import path

from . import api

urlpatterns = [
    path("staff/projects/", api.StaffProjectsApi.as_view(), name="api-staff-projects"),
    path("staff/projects/<uuid:pk>/", api.StaffProjectApi.as_view(), name="api-staff-project"),
    path(
        "staff/projects/<uuid:pk>/amend/",
        api.ProjectAmendApi.as_view(),
        name="api-staff-project-amend",
    ),
    path(
        "staff/projects/<uuid:pk>/<str:move>/",
        api.ProjectTransitionApi.as_view(),
        name="api-staff-project-move",
    ),
    path("projects/", api.OpenProjectsApi.as_view(), name="api-projects"),
    path("projects/<uuid:pk>/", api.PublicProjectApi.as_view(), name="api-project"),
    path("projects/<uuid:pk>/schedule/", api.ScheduleApi.as_view(), name="api-project-schedule"),
]
