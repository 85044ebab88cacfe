"""Home pages of the three portals; later apps add their own pages beside these (the staff and
borrow portals' homes are the loans app's: queues and portfolio; applications, loans; the
invest portal's is funding's: the portfolio)."""

from django.urls import path

from apps.applications import views_borrower, views_staff
from apps.funding import views as funding_views
from apps.funding import views_invitations
from apps.funding import views_network as funding_network
from apps.projects import views_public as project_views

from . import views, views_credentials, views_wallet

staff_patterns = (
    [
        path("", views_staff.staff_home, name="home"),
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
borrow_patterns = (
    [
        path("", views_borrower.home, name="home"),
        path("projects/", project_views.open_projects, name="projects"),
        path("credentials/", views_wallet.credentials, name="credentials"),
        path(
            "credentials/download/",
            views_wallet.credit_record_download,
            name="credentials-download",
        ),
        path(
            "credentials/<int:pk>/download/",
            views_wallet.credential_download,
            name="credential-download",
        ),
        path("credentials/import/", views_wallet.credential_import, name="credential-import"),
        path("credentials/present/", views_wallet.present, name="present"),
        path("credentials/present/verify/", views_wallet.present_verify, name="present-verify"),
        path("wallet/", views_wallet.wallet, name="wallet"),
        path("wallet/export/", views_wallet.wallet_export, name="wallet-export"),
        path("wallet/self-custody/", views_wallet.wallet_self_custody, name="wallet-self-custody"),
        path("wallet/challenge/", views_wallet.wallet_challenge, name="wallet-challenge"),
        path(
            "wallet/self-custody/register/",
            views_wallet.wallet_self_custody_register,
            name="wallet-self-custody-register",
        ),
    ],
    "borrow",
)
invest_patterns = (
    [
        path("", funding_views.investor_home, name="home"),
        path("portfolio/", funding_views.portfolio, name="portfolio"),
        path("commitments/<int:pk>/", funding_views.commitment_detail, name="commitment"),
        path(
            "commitments/<int:pk>/cancel/",
            funding_views.commitment_cancel,
            name="commitment-cancel",
        ),
        path("statements/", funding_views.statements, name="statements"),
        path("statements/statement.csv", funding_views.statement_csv, name="statement-csv"),
        path(
            "statements/statement.pdf",
            funding_views.statement_pdf_download,
            name="statement-pdf",
        ),
        path("projects/", funding_views.network_catalogue, name="projects"),
        path(
            "network/<str:book_key>/<uuid:project_id>/",
            funding_network.network_project_fund,
            name="network-fund",
        ),
        path(
            "network/commitments/",
            funding_network.network_commitments,
            name="network-commitments",
        ),
        path("invitations/", views_invitations.investor_invitations, name="invitations"),
        path(
            "invitations/ask/<uuid:project_pk>/",
            views_invitations.investor_invitation_request,
            name="invitation-request",
        ),
        path("invitations/<int:pk>/", views_invitations.investor_invitation, name="invitation"),
        path(
            "invitations/<int:pk>/agreement.json",
            views_invitations.investor_invitation_file,
            name="invitation-file",
        ),
        path(
            "invitations/<int:pk>/agreement.pdf",
            views_invitations.investor_invitation_pdf,
            name="invitation-pdf",
        ),
        path(
            "invitations/<int:pk>/withdraw/",
            views_invitations.investor_invitation_withdraw,
            name="invitation-withdraw",
        ),
    ],
    "invest",
)
