"""API for loans: borrowers apply, sign the agreement, confirm the disbursement and report
payments; originator staff review, disburse, record repayments and close loans; anyone verifies
a signed agreement. Thin: serializers check the form of what comes in, services hold the rules,
selectors read (another borrower's or organization's loan is simply not found: 404)."""

from __future__ import annotations

import json

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from apps.identity.api_errors import ApiErrorSerializer, JSONBodyParser
from apps.identity.models import Role
from apps.identity.permissions import IsOriginatorAdmin, IsOriginatorStaff, role_permission
from apps.projects.selectors import project_for_viewer

from . import selectors, services
from . import serializers as shapes
from .agreement import InvalidAgreement, verify_signed_agreement
from .models import Loan, LoanStatus, Repayment

ERRORS = {400: ApiErrorSerializer, 403: ApiErrorSerializer, 404: ApiErrorSerializer}
IsBorrower = role_permission({Role.BORROWER})
MAX_APPLICATION_BYTES = 512 * 1024  # a presentation is at most 256 KB
MAX_AGREEMENT_FILE_BYTES = 1024 * 1024
IDEMPOTENT = (
    " The payment reference is the idempotency key (no Idempotency-Key header is needed): the "
    "same reference again is the same payment, answered with 200 and never applied twice; the "
    "same reference with another amount is refused (400)."
)


def _body_at_most(request, limit: int) -> None:
    try:
        size = len(request.body)
    except RequestDataTooBig as exc:
        raise ParseError(f"The request is larger than {limit // 1024} KB.") from exc
    if size > limit:
        raise ParseError(f"The request is larger than {limit // 1024} KB.")


def _valid(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


def _project(request, pk):
    project = project_for_viewer(pk=pk, viewer=request.user)
    if project is None:
        raise serializers.ValidationError({"project": ["No such project."]})
    return project


def _own_loan(request, pk: int) -> Loan:
    loan = selectors.borrower_loan(borrower=request.user, pk=pk)
    if loan is None:
        raise Http404("You have no loan with this id.")
    return loan


def _organization_loan(request, pk: int) -> Loan:
    loan = selectors.organization_loan(organization=request.user.organization, pk=pk)
    if loan is None:
        raise Http404("Your organization has no loan with this id.")
    return loan


def _payment_known(loan: Loan, reference: str) -> bool:
    return selectors.loan_repayments(loan=loan).filter(reference=reference).exists()


# A payment recorded or reported: 201 when new, 200 when its reference was known.
PAYMENT_SCHEMA = extend_schema(
    request=shapes.PaymentInputSerializer,
    responses={201: shapes.RepaymentSerializer, 200: shapes.RepaymentSerializer, **ERRORS},
)


def _payment_answer(request, loan: Loan, record) -> Response:
    """RECORD the payment in the request: 201 when new, 200 when its reference was known (the
    same payment again, applied once)."""
    data = _valid(shapes.PaymentInputSerializer, request)
    known = _payment_known(loan, data["reference"])
    payment = record(data)
    return Response(
        shapes.RepaymentSerializer(payment).data,
        status=status.HTTP_200_OK if known else status.HTTP_201_CREATED,
    )


# --- borrowers -------------------------------------------------------------------------------


class LoanChallengeApi(APIView):
    """Step one of applying: a single-use presentation challenge bound to this node's domain,
    asking for the claims the project's criteria read (201). A project that asks for no
    credentials issues none: 200 with credentials_required false and challenge null; apply
    with presentation null."""

    permission_classes = [IsBorrower]

    @extend_schema(
        request=shapes.ProjectInputSerializer,
        responses={
            201: shapes.ChallengeAnswerSerializer,
            200: shapes.ChallengeAnswerSerializer,
            **ERRORS,
        },
    )
    def post(self, request):
        data = _valid(shapes.ProjectInputSerializer, request)
        challenge = services.application_challenge(
            borrower=request.user, project=_project(request, data["project"])
        )
        answer = {"credentials_required": challenge is not None, "challenge": challenge}
        return Response(
            shapes.ChallengeAnswerSerializer(answer).data,
            status=status.HTTP_201_CREATED if challenge else status.HTTP_200_OK,
        )


class LoansApi(ListAPIView):
    """The caller's applications and loans, newest first. POST applies for a loan: amount as a
    decimal string, the consent version accepted, and the presentation answering the challenge
    of POST /api/loans/challenge/. Everything is checked before anything is stored."""

    permission_classes = [IsBorrower]
    serializer_class = shapes.LoanSerializer

    def get_queryset(self):
        return selectors.borrower_loans(borrower=self.request.user)

    @extend_schema(
        request=shapes.ApplyInputSerializer, responses={201: shapes.LoanDetailSerializer, **ERRORS}
    )
    def post(self, request):
        _body_at_most(request, MAX_APPLICATION_BYTES)
        data = _valid(shapes.ApplyInputSerializer, request)
        project = _project(request, data.pop("project"))
        try:
            loan = services.application_submit(borrower=request.user, project=project, **data)
        except ValidationError as exc:  # the service says "consent"; this API's field is:
            if hasattr(exc, "error_dict") and "consent" in exc.error_dict:
                exc.error_dict["consent_version"] = exc.error_dict.pop("consent")
            raise
        return Response(shapes.LoanDetailSerializer(loan).data, status=status.HTTP_201_CREATED)


class LoanApi(APIView):
    """One of the caller's loans: status, amounts, the schedule once disbursed, payments,
    messages and the agreement's signatures."""

    permission_classes = [IsBorrower]

    @extend_schema(responses={200: shapes.LoanDetailSerializer, **ERRORS})
    def get(self, request, pk: int):
        return Response(shapes.LoanDetailSerializer(_own_loan(request, pk)).data)


class LoanWithdrawApi(APIView):
    """Withdraw an application, or an approved loan before it is disbursed."""

    permission_classes = [IsBorrower]

    @extend_schema(
        request=shapes.OptionalReasonInputSerializer,
        responses={200: shapes.LoanDetailSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        loan = _own_loan(request, pk)
        data = _valid(shapes.OptionalReasonInputSerializer, request)
        loan = services.application_withdraw(borrower=request.user, loan=loan, **data)
        return Response(shapes.LoanDetailSerializer(loan).data)


class _MessagesApi(APIView):
    """The conversation about one application, oldest first; POST adds a message."""

    # How the asker finds the loan: their own (borrowers) or their organization's (staff).
    loan = staticmethod(_own_loan)

    @extend_schema(responses={200: shapes.MessageSerializer(many=True), **ERRORS})
    def get(self, request, pk: int):
        messages = selectors.loan_messages(loan=self.loan(request, pk))
        return Response(shapes.MessageSerializer(messages, many=True).data)

    @extend_schema(
        request=shapes.MessageInputSerializer, responses={201: shapes.MessageSerializer, **ERRORS}
    )
    def post(self, request, pk: int):
        loan = self.loan(request, pk)
        data = _valid(shapes.MessageInputSerializer, request)
        message = services.message_post(author=request.user, loan=loan, body=data["body"])
        return Response(shapes.MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class LoanMessagesApi(_MessagesApi):
    __doc__ = _MessagesApi.__doc__ + " A borrower's answer puts the application back with staff."
    permission_classes = [IsBorrower]


class LoanAgreementApi(APIView):
    """The loan agreement: its canonical document, hash, signatures and the signed file. Until
    the borrower signs an approved loan's agreement, it is made again first if their DID changed
    since approval (they moved to self-custody), so what they sign names their DID."""

    permission_classes = [IsBorrower]

    @extend_schema(responses={200: shapes.AgreementFileSerializer, **ERRORS})
    def get(self, request, pk: int):
        loan = _own_loan(request, pk)
        agreement = selectors.loan_agreement(loan=loan)
        if agreement is None:
            raise Http404("This loan has no agreement: it is made when the loan is approved.")
        if loan.status == LoanStatus.APPROVED and not agreement.fully_signed:
            agreement = services.agreement_refresh(borrower=request.user, loan=loan)
        return Response(shapes.AgreementFileSerializer(agreement).data)


class LoanAgreementSignApi(APIView):
    """Sign the agreement's hash: with the account password for a custodial wallet (the node
    signs, and logs it in the wallet's history), or with `signature`, the compact EdDSA JWS a
    self-custody wallet made over {"agreement": hash, "role": "borrower"} (growr-wallet
    sign-agreement does this)."""

    permission_classes = [IsBorrower]

    @extend_schema(
        request=shapes.SignInputSerializer,
        responses={200: shapes.AgreementFileSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        loan = _own_loan(request, pk)
        data = _valid(shapes.SignInputSerializer, request)
        agreement = services.agreement_sign(
            borrower=request.user,
            loan=loan,
            password=data.get("password", ""),
            signature=data.get("signature", ""),
        )
        return Response(shapes.AgreementFileSerializer(agreement).data)


class DisbursementConfirmApi(APIView):
    """Confirm receipt of the money with the one-time code the disbursement notice carried.
    Five wrong codes and only staff can confirm."""

    permission_classes = [IsBorrower]

    @extend_schema(
        request=shapes.CodeInputSerializer,
        responses={200: shapes.DisbursementSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        loan = _own_loan(request, pk)
        data = _valid(shapes.CodeInputSerializer, request)
        disbursement = services.disbursement_confirm(
            borrower=request.user, loan=loan, code=data["code"]
        )
        return Response(shapes.DisbursementSerializer(disbursement).data)


class LoanRepaymentReportApi(APIView):
    __doc__ = (
        "Report a payment made towards an active loan (201); staff confirm it once they see "
        "the money." + IDEMPOTENT
    )
    permission_classes = [IsBorrower]

    @PAYMENT_SCHEMA
    def post(self, request, pk: int):
        loan = _own_loan(request, pk)
        return _payment_answer(
            request, loan, lambda data: services.repayment_report(
                borrower=request.user, loan=loan, **data
            ),
        )  # fmt: skip


# --- originator staff ------------------------------------------------------------------------

QUEUE_DESCRIPTION = "; ".join(
    f"{key}: {label}" for key, label in selectors.QUEUE_FILTERS.items() if key
)


class StaffLoansApi(ListAPIView):
    """The organization's applications and loans, newest first, narrowed to a queue (`state`),
    a project, or a search by the borrower's name, e-mail or the loan reference (L-000042)."""

    permission_classes = [IsOriginatorStaff]
    serializer_class = shapes.StaffLoanSerializer

    def get_queryset(self):
        filters = shapes.StaffLoansFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        chosen = filters.validated_data
        return selectors.organization_loans(
            organization=self.request.user.organization,
            state=chosen.get("state", ""),
            project_id=chosen.get("project"),
            search=chosen.get("search", ""),
        ).select_related("organization")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state",
                str,
                enum=[k for k in selectors.QUEUE_FILTERS if k],
                description=QUEUE_DESCRIPTION,
            ),
            OpenApiParameter("project", OpenApiTypes.UUID),
            OpenApiParameter("search", str, description="name, e-mail or L-000042"),
        ],
        responses={200: shapes.StaffLoanSerializer(many=True), **ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _staff_detail(loan: Loan, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(shapes.StaffLoanDetailSerializer(loan).data, status=status_code)


class StaffLoanApi(APIView):
    """One application or loan: who applied, the verified claims and how they met the criteria
    rule by rule, approvals, agreement, schedule, payments, messages and the audit trail."""

    permission_classes = [IsOriginatorStaff]

    @extend_schema(responses={200: shapes.StaffLoanDetailSerializer, **ERRORS})
    def get(self, request, pk: int):
        return _staff_detail(_organization_loan(request, pk))


class StaffLoanApproveApi(APIView):
    """Approve a submitted application; the agreement is made and signed for the organization.
    Above the organization's approval limit the first approval waits for a second staff
    member's: the same person approving twice is refused (403)."""

    permission_classes = [IsOriginatorStaff]

    @extend_schema(request=None, responses={200: shapes.StaffLoanDetailSerializer, **ERRORS})
    def post(self, request, pk: int):
        loan = services.application_approve(
            actor=request.user, loan=_organization_loan(request, pk)
        )
        return _staff_detail(loan)


class StaffLoanRejectApi(APIView):
    """Reject a submitted application; the borrower is told the reason."""

    permission_classes = [IsOriginatorStaff]

    @extend_schema(
        request=shapes.ReasonInputSerializer,
        responses={200: shapes.StaffLoanDetailSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        loan = _organization_loan(request, pk)
        data = _valid(shapes.ReasonInputSerializer, request)
        return _staff_detail(
            services.application_reject(actor=request.user, loan=loan, reason=data["reason"])
        )


class StaffLoanRequestInformationApi(APIView):
    """Send a submitted application back to the borrower with a question (a message in its
    thread); it waits for the borrower's answer."""

    permission_classes = [IsOriginatorStaff]

    @extend_schema(
        request=shapes.QuestionInputSerializer,
        responses={201: shapes.MessageSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        loan = _organization_loan(request, pk)
        data = _valid(shapes.QuestionInputSerializer, request)
        message = services.application_request_information(
            actor=request.user, loan=loan, question=data["question"]
        )
        return Response(shapes.MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class StaffLoanMessagesApi(_MessagesApi):
    __doc__ = _MessagesApi.__doc__ + " The borrower is told of a staff message."
    permission_classes = [IsOriginatorStaff]
    loan = staticmethod(_organization_loan)


class StaffLoanDisburseApi(APIView):
    """Record that the money went out (the borrower has signed): the loan becomes active with
    its schedule dated from disbursed_on, and the borrower gets a code to confirm receipt. The
    same rail and reference again changes nothing."""

    permission_classes = [IsOriginatorStaff]

    @extend_schema(
        request=shapes.DisburseInputSerializer,
        responses={200: shapes.StaffLoanDetailSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        loan = _organization_loan(request, pk)
        data = _valid(shapes.DisburseInputSerializer, request)
        return _staff_detail(services.loan_disburse(actor=request.user, loan=loan, **data))


class StaffLoanRepaymentsApi(APIView):
    __doc__ = (
        "Record a payment received towards an active loan; it is applied at once (fees, "
        "interest, then principal, oldest installment first) and a loan paid off closes (201). "
        "Recording a payment the borrower reported, by its reference, confirms it." + IDEMPOTENT
    )
    permission_classes = [IsOriginatorStaff]

    @PAYMENT_SCHEMA
    def post(self, request, pk: int):
        loan = _organization_loan(request, pk)
        return _payment_answer(
            request, loan, lambda data: services.repayment_record(
                actor=request.user, loan=loan, **data
            ),
        )  # fmt: skip


class StaffLoanRefundApi(APIView):
    """Record that the over-paid amount went back to the borrower; the loan closes."""

    permission_classes = [IsOriginatorStaff]

    @extend_schema(
        request=shapes.RefundInputSerializer,
        responses={200: shapes.StaffLoanDetailSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        loan = _organization_loan(request, pk)
        data = _valid(shapes.RefundInputSerializer, request)
        return _staff_detail(services.overpayment_refund(actor=request.user, loan=loan, **data))


class StaffLoanWriteOffApi(APIView):
    """Write off an active loan's outstanding principal (originator admins only)."""

    permission_classes = [IsOriginatorAdmin]

    @extend_schema(
        request=shapes.ReasonInputSerializer,
        responses={200: shapes.StaffLoanDetailSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        loan = _organization_loan(request, pk)
        data = _valid(shapes.ReasonInputSerializer, request)
        return _staff_detail(
            services.loan_write_off(actor=request.user, loan=loan, reason=data["reason"])
        )


class StaffRepaymentsApi(ListAPIView):
    """Payments borrowers reported that wait for staff to confirm or refuse them."""

    permission_classes = [IsOriginatorStaff]
    serializer_class = shapes.RepaymentSerializer

    def get_queryset(self):
        return selectors.pending_repayments(organization=self.request.user.organization)


def _organization_repayment(request, pk: int) -> Repayment:
    payment = selectors.organization_repayment(organization=request.user.organization, pk=pk)
    if payment is None:
        raise Http404("Your organization has no payment with this id.")
    return payment


class StaffRepaymentConfirmApi(APIView):
    """Confirm a payment the borrower reported: it is applied. Confirming again changes
    nothing."""

    permission_classes = [IsOriginatorStaff]

    @extend_schema(request=None, responses={200: shapes.RepaymentSerializer, **ERRORS})
    def post(self, request, pk: int):
        payment = services.repayment_confirm(
            actor=request.user, repayment=_organization_repayment(request, pk)
        )
        return Response(shapes.RepaymentSerializer(payment).data)


class StaffRepaymentRejectApi(APIView):
    """Refuse a reported payment that never arrived; the borrower is told why."""

    permission_classes = [IsOriginatorStaff]

    @extend_schema(
        request=shapes.ReasonInputSerializer, responses={200: shapes.RepaymentSerializer, **ERRORS}
    )
    def post(self, request, pk: int):
        payment = _organization_repayment(request, pk)
        data = _valid(shapes.ReasonInputSerializer, request)
        payment = services.repayment_reject(
            actor=request.user, repayment=payment, reason=data["reason"]
        )
        return Response(shapes.RepaymentSerializer(payment).data)


class ApprovalLimitsApi(APIView):
    """Per currency, the amount above which an application needs a second staff member's
    approval. Staff read; an originator admin sets one currency's limit with PUT (amount null
    removes it) and gets the whole list back."""

    def get_permissions(self):
        return [IsOriginatorAdmin()] if self.request.method == "PUT" else [IsOriginatorStaff()]

    def _limits(self, request) -> Response:
        limits = selectors.approval_limits(organization=request.user.organization)
        return Response(
            shapes.ApprovalLimitSerializer(limits.select_related("updated_by"), many=True).data
        )

    @extend_schema(responses={200: shapes.ApprovalLimitSerializer(many=True), **ERRORS})
    def get(self, request):
        return self._limits(request)

    @extend_schema(
        request=shapes.ApprovalLimitInputSerializer,
        responses={200: shapes.ApprovalLimitSerializer(many=True), **ERRORS},
    )
    def put(self, request):
        data = _valid(shapes.ApprovalLimitInputSerializer, request)
        services.approval_limit_set(actor=request.user, **data)
        return self._limits(request)


# --- anyone ----------------------------------------------------------------------------------


class AgreementVerifyApi(APIView):
    """Check a signed agreement file (a loan agreement or an investment agreement) from itself
    alone: its form, its hash, and each party's signature against the did:key the document
    names. Send the file as the JSON body, or as `file` in a multipart form. A file whose
    signatures do not hold is answered 200 with each signature's reason; a malformed one 400
    (code invalid_agreement) with what is wrong."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AnonRateThrottle]
    parser_classes = [JSONBodyParser, MultiPartParser]

    @extend_schema(
        request={
            "application/json": OpenApiTypes.OBJECT,
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            },
        },
        responses={200: shapes.VerifiedAgreementSerializer, 400: ApiErrorSerializer},
        auth=[],
    )
    def post(self, request):
        _body_at_most(request, MAX_AGREEMENT_FILE_BYTES)
        if "file" in request.FILES:
            try:
                signed = json.loads(request.FILES["file"].read())
            except (ValueError, RecursionError):
                return _invalid_agreement("the file is not JSON")
        else:
            signed = request.data
        problem = shapes.json_problem(signed, limit=64)
        if problem:
            return _invalid_agreement(problem)
        try:
            verified = verify_signed_agreement(signed)
        except InvalidAgreement as exc:
            return _invalid_agreement(str(exc))
        return Response(shapes.VerifiedAgreementSerializer(verified).data)


def _invalid_agreement(reason: str) -> Response:
    return Response(
        {"error": {"code": "invalid_agreement", "message": reason}},
        status=status.HTTP_400_BAD_REQUEST,
    )
