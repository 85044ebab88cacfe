"""Invitations to invite-only projects, both sides. Investors (under /invest/invitations/): ask
for one from a project's page, read and sign the investment agreement (the node signs a
custodial wallet on the investor's password; a self-custody wallet signs in the browser with
static/js/loan.js and wallet.js, as a borrower signs a loan agreement), download it signed (JSON)
or as a PDF, withdraw. Staff (under /staff/funding/invitations/): the requests to answer, inviting
an investor by e-mail, each invitation with the KYC credential shown with it, its agreement and
its history.

Thin: services decide and refuse, selectors read. A refusal about the input is a form error on
the page again; one about the invitation's state (it moved on) a message on its page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.applications import agreement_pdf
from apps.applications.agreement import INVESTMENT_FORMAT, JWS_TYPE, verify_signed_agreement
from apps.applications.agreement_text import describe
from apps.applications.forms_borrower import SignForm
from apps.identity.credential_selectors import claim_rows
from apps.identity.models import Custody
from apps.identity.permissions import portal_required
from apps.identity.ssi.didkey import verification_method
from apps.identity.wallet_services import wallet_of_user
from apps.projects import selectors as project_selectors

from . import invitation_selectors as selectors
from . import services
from .forms_invitations import CloseForm, InvitationFilterForm, InvitationRequestForm, InviteForm
from .models import OPEN_INVITATION, InvestmentAgreement, Invitation, InvitationStatus

INVITATIONS_PAGE = 25
REQUESTS_SHOWN = 50
ACTIONS = {
    "requested": "Asked for an invitation",
    "invited": "Invited; agreement signed for the organization",
    "agreement_remade": "Agreement made again",
    "agreement_signed": "Agreement signed by the investor; confirmed",
    "declined": "Declined",
    "withdrawn": "Withdrawn by the investor",
}


def investor_status(invitation: Invitation) -> str:
    """Where INVITATION stands, said to its investor."""
    organization = invitation.project.organization.name
    return {
        InvitationStatus.REQUESTED: f"Asked; {organization} will answer",
        InvitationStatus.INVITED: "Invited: read and sign the agreement",
        InvitationStatus.CONFIRMED: "Confirmed: you may commit to this project",
        InvitationStatus.DECLINED: f"Declined by {organization}",
        InvitationStatus.WITHDRAWN: "Withdrawn by you",
    }[invitation.status]


def _service_errors(form: Form, error: ValidationError) -> None:
    """A service's refusal on FORM: by the field it names when the form shows that field, above
    the form otherwise (a hidden signature's error included)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for key, errors in error.message_dict.items():
        shown = key in form.fields and not form.fields[key].widget.is_hidden
        form.add_error(key if shown else None, errors)


def _signatures(agreement: InvestmentAgreement | None) -> tuple[object, list]:
    """The agreement as text and each party's signature checked as anyone would check its
    file."""
    if agreement is None:
        return None, []
    text = describe(agreement.document)
    checks = verify_signed_agreement(agreement.signed_file()).signatures
    return text, [(text.role_label(check.role), check) for check in checks]


def _file_response(agreement: InvestmentAgreement, invitation: Invitation) -> HttpResponse:
    response = JsonResponse(
        agreement.signed_file(), json_dumps_params={"indent": 2, "ensure_ascii": False}
    )
    name = f"growr-investment-agreement-{invitation.reference}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- investors ---------------------------------------------------------------------------------


def _own_or_404(request: HttpRequest, pk: int) -> Invitation:
    invitation = selectors.investor_invitation(investor=request.user, pk=pk)
    if invitation is None:
        raise Http404("No such invitation of yours.")
    return invitation


def _agreement_or_404(invitation: Invitation) -> InvestmentAgreement:
    agreement = selectors.invitation_agreement(invitation=invitation)
    if agreement is None:
        raise Http404("This invitation has no agreement yet.")
    return agreement


@portal_required("invest")
def investor_invitations(request: HttpRequest) -> HttpResponse:
    invitations = selectors.investor_invitations(investor=request.user)
    page = Paginator(invitations, INVITATIONS_PAGE).get_page(request.GET.get("page"))
    page.object_list = [(i, investor_status(i)) for i in page.object_list]
    return render(request, "funding/invitations/investor_list.html", {"page": page})


@portal_required("invest")
def investor_invitation_request(request: HttpRequest, project_pk) -> HttpResponse:
    """The request for an invitation to an invite-only project: a note, and a KYC credential
    to show if the investor holds one."""
    project = project_selectors.project_for_viewer(pk=project_pk, viewer=request.user)
    if project is None:
        raise Http404("No such project.")
    current = selectors.project_invitation(project=project, investor=request.user)
    if current is not None and current.status in OPEN_INVITATION:
        return redirect("invest:invitation", current.pk)
    kyc = selectors.usable_kyc(investor=request.user)
    form = InvitationRequestForm(request.POST if request.method == "POST" else None, kyc=kyc)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_request(
                investor=request.user,
                project=project,
                note=form.cleaned_data["note"],
                kyc_credential_id=form.cleaned_data.get("kyc_credential") or None,
            )
        except ValidationError as error:
            _service_errors(form, error)
        else:
            messages.success(
                request, f"You asked {project.organization.name} for an invitation to {project}."
            )
            return redirect("invest:invitation", invitation.pk)
    context = {"project": project, "form": form, "previous": current}
    return render(request, "funding/invitations/request.html", context)


@portal_required("invest")
def investor_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    """An invitation, its investment agreement to read and, while invited, to sign."""
    invitation = _own_or_404(request, pk)
    wallet = wallet_of_user(user=request.user)
    form = SignForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if invitation.status != InvitationStatus.INVITED:
            messages.error(request, "This invitation is not waiting for your signature.")
            return redirect("invest:invitation", invitation.pk)
        if form.is_valid():
            try:
                services.invitation_accept(
                    investor=request.user,
                    invitation=invitation,
                    password=form.cleaned_data["password"],
                    signature=form.cleaned_data["signature"],
                )
            except ValidationError as error:
                if not hasattr(error, "error_dict"):  # it moved on: nothing to sign
                    messages.error(request, " ".join(error.messages))
                    return redirect("invest:invitation", invitation.pk)
                _service_errors(form, error)
            else:
                messages.success(
                    request,
                    f"You signed the investment agreement: you may now commit to "
                    f"{invitation.project.name}.",
                )
                return redirect("invest:invitation", invitation.pk)
    elif invitation.status == InvitationStatus.INVITED:
        # Made again when the investor's DID or the project's terms changed since.
        services.invitation_agreement_refresh(investor=request.user, invitation=invitation)
    agreement = selectors.invitation_agreement(invitation=invitation)
    text, signatures = _signatures(agreement)
    to_sign = invitation.status == InvitationStatus.INVITED and agreement is not None
    context = {
        "invitation": invitation,
        "status": investor_status(invitation),
        "agreement": agreement,
        "text": text,
        "signatures": signatures,
        "to_sign": to_sign,
        "form": form,
        "close_form": CloseForm(),
        "can_withdraw": invitation.status in (InvitationStatus.REQUESTED, InvitationStatus.INVITED),
        "custodial": wallet.custody == Custody.CUSTODIAL,
        "wallet": wallet,
        "to_sign_in_browser": {
            "did": wallet.did,
            "kid": verification_method(wallet.did),
            "typ": JWS_TYPE,
            "hash": agreement.hash if agreement else "",
            "role": "investor",
            "format": INVESTMENT_FORMAT,
        },
    }
    return render(request, "funding/invitations/investor_detail.html", context)


@never_cache
@portal_required("invest")
def investor_invitation_file(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _own_or_404(request, pk)
    return _file_response(_agreement_or_404(invitation), invitation)


@never_cache
@portal_required("invest")
def investor_invitation_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _own_or_404(request, pk)
    signed = _agreement_or_404(invitation).signed_file()
    data = agreement_pdf.render(
        document=signed["document"], document_hash=signed["hash"], signatures=signed["signatures"]
    )
    response = HttpResponse(data, content_type="application/pdf")
    name = f"growr-investment-agreement-{invitation.reference}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
@portal_required("invest")
def investor_invitation_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _own_or_404(request, pk)
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            services.invitation_withdraw(
                investor=request.user, invitation=invitation, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "You withdrew it.")
    else:
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
    return redirect("invest:invitation", invitation.pk)


# --- staff -------------------------------------------------------------------------------------


def _organization_invitation(request: HttpRequest, pk: int) -> Invitation:
    invitation = selectors.organization_invitation(organization=request.user.organization, pk=pk)
    if invitation is None:
        raise Http404("No such invitation to your organization's projects.")
    return invitation


def _render_list(request: HttpRequest, invite_form: InviteForm | None = None) -> HttpResponse:
    organization = request.user.organization
    projects = list(selectors.invitable_projects(organization=organization))
    filter_form = InvitationFilterForm(request.GET or None)
    filters = filter_form.filters()
    requests = selectors.organization_invitations(
        organization=organization, status=InvitationStatus.REQUESTED
    )
    invitations = selectors.organization_invitations(organization=organization, **filters)
    context = {
        "organization": organization,
        "requests": list(requests[:REQUESTS_SHOWN]),
        "more_requests": requests.count() > REQUESTS_SHOWN,
        "projects": projects,
        "invite_form": invite_form or InviteForm(projects=projects),
        "filter_form": filter_form,
        "filtered": any(filters.values()),
        "page": Paginator(invitations, INVITATIONS_PAGE).get_page(request.GET.get("page")),
    }
    return render(request, "funding/invitations/staff_list.html", context)


@portal_required("staff")
def staff_invitations(request: HttpRequest) -> HttpResponse:
    return _render_list(request)


@require_POST
@portal_required("staff")
def staff_invite(request: HttpRequest) -> HttpResponse:
    """Invite an investor account by e-mail to one of the organization's invite-only projects
    (or answer the request it made)."""
    projects = list(selectors.invitable_projects(organization=request.user.organization))
    form = InviteForm(request.POST, projects=projects)
    if form.is_valid():
        project = next(p for p in projects if str(p.pk) == form.cleaned_data["project"])
        try:
            invitation = services.invitation_invite_by_email(
                actor=request.user, project=project, email=form.cleaned_data["email"]
            )
        except ValidationError as error:
            _service_errors(form, error)
        else:
            messages.success(
                request,
                f"{invitation.investor.email} is invited to {project.name}: the agreement, "
                "signed for your organization, waits for their signature.",
            )
            return redirect("funding_invitations:detail", invitation.pk)
    return _render_list(request, invite_form=form)


def _render_detail(request: HttpRequest, invitation: Invitation, **forms) -> HttpResponse:
    agreement = selectors.invitation_agreement(invitation=invitation)
    text, signatures = _signatures(agreement)
    kyc = selectors.shared_kyc(invitation=invitation)
    events = [
        {"event": event, "action": ACTIONS.get(event.action, event.action.replace("_", " "))}
        for event in selectors.invitation_events(invitation=invitation)
    ]
    status = invitation.status
    context: dict = {
        "invitation": invitation,
        "agreement": agreement,
        "text": text,
        "signatures": signatures,
        "kyc": kyc,
        "kyc_claims": claim_rows(credential_type="kyc", claims=kyc.record.claims) if kyc else [],
        "events": events,
        "can_invite": status == InvitationStatus.REQUESTED,
        "can_decline": status in (InvitationStatus.REQUESTED, InvitationStatus.INVITED),
        "decline_form": forms.get("decline_form") or CloseForm(auto_id="id_decline_%s"),
    }
    return render(request, "funding/invitations/staff_detail.html", context)


@portal_required("staff")
def staff_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _organization_invitation(request, pk))


@require_POST
@portal_required("staff")
def staff_invitation_invite(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _organization_invitation(request, pk)
    try:
        services.invitation_invite(actor=request.user, invitation=invitation)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"{invitation.investor.full_name or invitation.investor.email} is invited: the "
            "agreement, signed for your organization, waits for their signature.",
        )
    return redirect("funding_invitations:detail", invitation.pk)


@require_POST
@portal_required("staff")
def staff_invitation_decline(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _organization_invitation(request, pk)
    form = CloseForm(request.POST, auto_id="id_decline_%s")
    if not form.is_valid():
        return _render_detail(request, invitation, decline_form=form)
    try:
        services.invitation_decline(
            actor=request.user, invitation=invitation, reason=form.cleaned_data["reason"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Declined: the investor is told.")
    return redirect("funding_invitations:detail", invitation.pk)


@never_cache
@portal_required("staff")
def staff_invitation_file(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _organization_invitation(request, pk)
    return _file_response(_agreement_or_404(invitation), invitation)
