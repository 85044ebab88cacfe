"""The originator staff's loan pages, under /staff/loans/ (namespace "loans"). The staff
dashboard that sums them up is the staff portal's home (staff:home)."""

from django.urls import path

from . import views_staff

app_name = "loans"

urlpatterns = [
    path("", views_staff.loan_queue, name="queue"),
    path("payments/", views_staff.pending_payments, name="payments"),
    path("limits/", views_staff.approval_limits, name="limits"),
    path("limits/set/", views_staff.approval_limit_set, name="limit-set"),
    path("<int:pk>/", views_staff.loan_detail, name="detail"),
    path("<int:pk>/agreement/", views_staff.agreement_page, name="agreement"),
    path("<int:pk>/agreement.json", views_staff.agreement_file, name="agreement-file"),
    path("<int:pk>/messages/", views_staff.loan_message, name="message"),
    path(
        "<int:pk>/request-information/",
        views_staff.loan_request_information,
        name="request-information",
    ),
    path("<int:pk>/approve/", views_staff.loan_approve, name="approve"),
    path("<int:pk>/reject/", views_staff.loan_reject, name="reject"),
    path("<int:pk>/disburse/", views_staff.loan_disburse, name="disburse"),
    path("<int:pk>/repayments/", views_staff.repayment_record, name="repayment-record"),
    path(
        "<int:pk>/repayments/<int:repayment_pk>/confirm/",
        views_staff.repayment_confirm,
        name="repayment-confirm",
    ),
    path(
        "<int:pk>/repayments/<int:repayment_pk>/refuse/",
        views_staff.repayment_refuse,
        name="repayment-refuse",
    ),
    path("<int:pk>/refund/", views_staff.overpayment_refund, name="refund"),
    path("<int:pk>/write-off/", views_staff.loan_write_off, name="write-off"),
]
