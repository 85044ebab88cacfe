"""Staff pages of invitations to invite-only projects, under /staff/funding/invitations/ (the
investors' invitation pages are in identity's urls_portals, under /invest/invitations/)."""

from django.urls import path

from . import views_invitations as views

app_name = "funding_invitations"

urlpatterns = [
    path("", views.staff_invitations, name="list"),
    path("invite/", views.staff_invite, name="invite"),
    path("<int:pk>/", views.staff_invitation, name="detail"),
    path("<int:pk>/invite/", views.staff_invitation_invite, name="invite-requested"),
    path("<int:pk>/decline/", views.staff_invitation_decline, name="decline"),
    path("<int:pk>/agreement.json", views.staff_invitation_file, name="agreement-file"),
]
