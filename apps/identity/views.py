"""Account pages and the home pages of the borrower and investor portals (the staff portal's
home, its dashboard, is apps/applications/views_staff.staff_home). Thin: services do the work."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import InvitationAcceptForm, ProfileForm, RegistrationForm, StaffInvitationForm
from .models import Role
from .permissions import (
    ORIGINATOR_ADMIN_ONLY,
    node_serves,
    portal_home_url,
    portal_required,
    role_required,
)

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"
NOTIFICATIONS_PAGE = 25


def _add_service_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(portal_home_url(request.user))
    return render(request, "identity/landing.html")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect(portal_home_url(request.user))


def _register(request: HttpRequest, *, role: str) -> HttpResponse:
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_self_register(
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                role=role,
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            login(request, user, backend=AUTH_BACKEND)
            messages.success(request, "Welcome! Your account is ready.")
            return redirect(portal_home_url(user))
    return render(
        request, "registration/register.html", {"form": form, "role_label": Role(role).label}
    )


def register_borrower(request: HttpRequest) -> HttpResponse:
    if not node_serves("borrow"):
        raise Http404("This node does not take borrowers.")
    return _register(request, role=Role.BORROWER)


def register_investor(request: HttpRequest) -> HttpResponse:
    return _register(request, role=Role.INVESTOR)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.staff_invitation_open(token=token)
    if invitation is None:
        return render(request, "registration/invitation_invalid.html", status=404)
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.staff_invitation_accept(
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            login(request, user, backend=AUTH_BACKEND)
            messages.success(request, f"Welcome to {user.organization.name}.")
            return redirect(portal_home_url(user))
    return render(
        request, "registration/invitation_accept.html", {"form": form, "invitation": invitation}
    )


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, initial={"full_name": request.user.full_name})
    if request.method == "POST" and form.is_valid():
        services.user_profile_update(user=request.user, full_name=form.cleaned_data["full_name"])
        messages.success(request, "Your profile is saved.")
        return redirect("profile")
    return render(request, "identity/profile.html", {"form": form})


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_of(user=request.user), NOTIFICATIONS_PAGE).get_page(
        request.GET.get("page")
    )
    # Seen now: the list still marks them new, the header counts what is left unread.
    unread = [notification.pk for notification in page if notification.read_at is None]
    if unread:
        services.notifications_mark_read(user=request.user, ids=unread)
    return render(request, "identity/notifications.html", {"page": page})


@require_POST
@login_required
def notifications_read(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_read(user=request.user)
    messages.success(request, "All your notifications are marked read.")
    return redirect("notifications")


@portal_required("staff")
def staff_team(request: HttpRequest) -> HttpResponse:
    organization = request.user.organization
    form = StaffInvitationForm(request.POST or None)
    # The service refuses agents (403); the form only checks the shape of the input.
    if request.method == "POST" and form.is_valid():
        try:
            invitation, _ = services.staff_invitation_create(
                invited_by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("staff:team")
    context = {
        "organization": organization,
        "members": selectors.organization_members(organization=organization),
        "open_invitations": selectors.organization_open_invitations(organization=organization),
        "form": form,
    }
    return render(request, "identity/staff_team.html", context)


@require_POST
@portal_required("staff")
@role_required(ORIGINATOR_ADMIN_ONLY)
def staff_invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = selectors.organization_invitation(organization=request.user.organization, pk=pk)
    if invitation is None:
        raise Http404("No such invitation in your organization.")
    try:
        services.staff_invitation_revoke(invitation=invitation, revoked_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Invitation for {invitation.email} revoked.")
    return redirect("staff:team")


@require_POST
@portal_required("staff")
@role_required(ORIGINATOR_ADMIN_ONLY)
def staff_member_access(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.organization_member(organization=request.user.organization, pk=pk)
    if member is None:
        raise Http404("No such member in your organization.")
    active = request.POST.get("active") == "1"
    try:
        services.staff_member_set_active(member=member, changed_by=request.user, active=active)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        state = "restored" if active else "suspended"
        messages.success(request, f"Access for {member.email} {state}.")
    return redirect("staff:team")
