"""Home pages of the three portals; later apps add their own pages beside these."""

from django.urls import path

from apps.funding import views as funding_views

from . import views, views_credentials

staff_patterns = (
    [
        path("", views.staff_home, name="home"),
        path("team/", views.staff_team, name="team"),
        path(
            "team/invitations/<int:pk>/revoke/",
            views.staff_invitation_revoke,
            name="invitation-revoke",
        ),
        path("team/members/<int:pk>/access/", views.staff_member_access, name="member-access"),
        path("credentials/", views_credentials.credentials, name="credentials"),
        path("credentials/issue/", views_credentials.credential_issue, name="credential-issue"),
        path("credentials/bulk/", views_credentials.credential_bulk, name="credential-bulk"),
        path(
            "credentials/bulk/template.csv",
            views_credentials.credential_bulk_template,
            name="credential-bulk-template",
        ),
        path("credentials/<int:pk>/", views_credentials.credential_detail, name="credential"),
        path(
            "credentials/<int:pk>/revoke/",
            views_credentials.credential_revoke,
            name="credential-revoke",
        ),
    ],
    "staff",
)
borrow_patterns = ([path("", views.borrower_home, name="home")], "borrow")
invest_patterns = (
    [
        path("", views.investor_home, name="home"),
        path("projects/", funding_views.network_catalogue, name="projects"),
    ],
    "invest",
)
