from django.urls import path

from . import api_network, api_remote

urlpatterns = [
    # an originator's node: commitments signed on investors' own nodes
    path(
        "remote-commitments/",
        api_remote.RemoteCommitmentsApi.as_view(),
        name="api-remote-commitments",
    ),
    # an investor's node: the network's projects, and commitments sent to their originators
    path(
        "network/projects/", api_network.NetworkProjectsApi.as_view(), name="api-network-projects"
    ),
    path(
        "network/commitments/",
        api_network.NetworkCommitmentsApi.as_view(),
        name="api-network-commitments",
    ),
]
