from django.urls import path

from . import api_remote

urlpatterns = [
    path(
        "remote-commitments/",
        api_remote.RemoteCommitmentsApi.as_view(),
        name="api-remote-commitments",
    ),
]
