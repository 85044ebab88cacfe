from django.urls import path

from . import api

urlpatterns = [
    # investors
    path("commitments/", api.CommitmentsApi.as_view(), name="api-commitments"),
    path("commitments/<uuid:pk>/", api.CommitmentApi.as_view(), name="api-commitment"),
    path(
        "commitments/<uuid:pk>/cancel/",
        api.CommitmentCancelApi.as_view(),
        name="api-commitment-cancel",
    ),
    path("portfolio/", api.PortfolioApi.as_view(), name="api-portfolio"),
    path("statements/", api.StatementApi.as_view(), name="api-statements"),
    # anyone
    path(
        "projects/<uuid:pk>/funding/", api.ProjectFundingApi.as_view(), name="api-project-funding"
    ),
    # originator staff
    path(
        "staff/projects/<uuid:pk>/commitments/",
        api.StaffProjectCommitmentsApi.as_view(),
        name="api-staff-project-commitments",
    ),
    path(
        "staff/commitments/<uuid:pk>/confirm/",
        api.StaffCommitmentConfirmApi.as_view(),
        name="api-staff-commitment-confirm",
    ),
    path(
        "staff/commitments/<uuid:pk>/refund/",
        api.StaffCommitmentRefundApi.as_view(),
        name="api-staff-commitment-refund",
    ),
]
