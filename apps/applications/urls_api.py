from django.urls import path

from . import api

urlpatterns = [
    # borrowers
    path("loans/", api.LoansApi.as_view(), name="api-loans"),
    path("loans/challenge/", api.LoanChallengeApi.as_view(), name="api-loan-challenge"),
    path("loans/<int:pk>/", api.LoanApi.as_view(), name="api-loan"),
    path("loans/<int:pk>/withdraw/", api.LoanWithdrawApi.as_view(), name="api-loan-withdraw"),
    path("loans/<int:pk>/messages/", api.LoanMessagesApi.as_view(), name="api-loan-messages"),
    path("loans/<int:pk>/agreement/", api.LoanAgreementApi.as_view(), name="api-loan-agreement"),
    path(
        "loans/<int:pk>/agreement/sign/",
        api.LoanAgreementSignApi.as_view(),
        name="api-loan-agreement-sign",
    ),
    path(
        "loans/<int:pk>/disbursement/confirm/",
        api.DisbursementConfirmApi.as_view(),
        name="api-loan-disbursement-confirm",
    ),
    path(
        "loans/<int:pk>/repayments/",
        api.LoanRepaymentReportApi.as_view(),
        name="api-loan-repayments",
    ),
    # originator staff
    path("staff/loans/", api.StaffLoansApi.as_view(), name="api-staff-loans"),
    path("staff/loans/<int:pk>/", api.StaffLoanApi.as_view(), name="api-staff-loan"),
    path(
        "staff/loans/<int:pk>/approve/",
        api.StaffLoanApproveApi.as_view(),
        name="api-staff-loan-approve",
    ),
    path(
        "staff/loans/<int:pk>/reject/",
        api.StaffLoanRejectApi.as_view(),
        name="api-staff-loan-reject",
    ),
    path(
        "staff/loans/<int:pk>/request-information/",
        api.StaffLoanRequestInformationApi.as_view(),
        name="api-staff-loan-request-information",
    ),
    path(
        "staff/loans/<int:pk>/messages/",
        api.StaffLoanMessagesApi.as_view(),
        name="api-staff-loan-messages",
    ),
    path(
        "staff/loans/<int:pk>/disburse/",
        api.StaffLoanDisburseApi.as_view(),
        name="api-staff-loan-disburse",
    ),
    path(
        "staff/loans/<int:pk>/repayments/",
        api.StaffLoanRepaymentsApi.as_view(),
        name="api-staff-loan-repayments",
    ),
    path(
        "staff/loans/<int:pk>/refund/",
        api.StaffLoanRefundApi.as_view(),
        name="api-staff-loan-refund",
    ),
    path(
        "staff/loans/<int:pk>/write-off/",
        api.StaffLoanWriteOffApi.as_view(),
        name="api-staff-loan-write-off",
    ),
    path("staff/repayments/", api.StaffRepaymentsApi.as_view(), name="api-staff-repayments"),
    path(
        "staff/repayments/<int:pk>/confirm/",
        api.StaffRepaymentConfirmApi.as_view(),
        name="api-staff-repayment-confirm",
    ),
    path(
        "staff/repayments/<int:pk>/reject/",
        api.StaffRepaymentRejectApi.as_view(),
        name="api-staff-repayment-reject",
    ),
    path(
        "staff/approval-limits/", api.ApprovalLimitsApi.as_view(), name="api-staff-approval-limits"
    ),
    # anyone
    path("agreements/verify/", api.AgreementVerifyApi.as_view(), name="api-agreement-verify"),
]
