"""Home pages of the three portals; later apps add their own pages beside these."""

from django.urls import path

from apps.funding import views as funding_views

from . import views

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
