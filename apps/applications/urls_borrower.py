"""The borrower's loan pages (under /borrow/loans/, namespace "borrower_loans"); the borrow
portal's home is views_borrower.home too (apps/identity/urls_portals.py)."""

from django.urls import path

from . import views_borrower as views

app_name = "borrower_loans"

urlpatterns = [
    path("", views.loan_list, name="list"),
    path("apply/<uuid:project_pk>/", views.apply, name="apply"),
    path("apply/<uuid:project_pk>/challenge/", views.apply_challenge, name="apply-challenge"),
    path("<int:pk>/", views.loan_detail, name="detail"),
    path("<int:pk>/messages/", views.message_post, name="message"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("<int:pk>/agreement/", views.agreement, name="agreement"),
    path("<int:pk>/agreement/file.json", views.agreement_file, name="agreement-file"),
    path("<int:pk>/agreement/file.pdf", views.agreement_pdf_download, name="agreement-pdf"),
    path(
        "<int:pk>/disbursement/confirm/",
        views.disbursement_confirm,
        name="disbursement-confirm",
    ),
    path("<int:pk>/payments/report/", views.repayment_report, name="repayment-report"),
]
