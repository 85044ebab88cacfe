from django.urls import path

from . import api, api_credentials

urlpatterns = [
    path("auth/token/", api.TokenApi.as_view(), name="api-token"),
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("notifications/", api.NotificationsApi.as_view(), name="api-notifications"),
    path("staff/team/", api.TeamApi.as_view(), name="api-staff-team"),
    path(
        "staff/invitations/",
        api.InvitationListCreateApi.as_view(),
        name="api-staff-invitations",
    ),
    path("wallet/", api_credentials.WalletApi.as_view(), name="api-wallet"),
    path("wallet/export/", api_credentials.WalletExportApi.as_view(), name="api-wallet-export"),
    path(
        "wallet/challenges/",
        api_credentials.DidControlChallengeApi.as_view(),
        name="api-wallet-challenge",
    ),
    path(
        "wallet/self-custody/",
        api_credentials.SelfCustodyApi.as_view(),
        name="api-wallet-self-custody",
    ),
    path(
        "credential-types/",
        api_credentials.CredentialTypesApi.as_view(),
        name="api-credential-types",
    ),
    path("credentials/", api_credentials.CreditRecordApi.as_view(), name="api-credentials"),
    path(
        "credentials/import/",
        api_credentials.CredentialImportApi.as_view(),
        name="api-credential-import",
    ),
    path(
        "staff/credentials/",
        api_credentials.StaffCredentialsApi.as_view(),
        name="api-staff-credentials",
    ),
    path(
        "staff/credentials/bulk/",
        api_credentials.StaffCredentialsBulkApi.as_view(),
        name="api-staff-credentials-bulk",
    ),
    path(
        "staff/credentials/<int:pk>/revoke/",
        api_credentials.StaffCredentialRevokeApi.as_view(),
        name="api-staff-credential-revoke",
    ),
    path(
        "trusted-issuers/",
        api_credentials.TrustedIssuersApi.as_view(),
        name="api-trusted-issuers",
    ),
    path(
        "trusted-issuers/<str:did>/",
        api_credentials.TrustedIssuerApi.as_view(),
        name="api-trusted-issuer",
    ),
    path(
        "presentations/challenges/",
        api_credentials.PresentationChallengeApi.as_view(),
        name="api-presentation-challenge",
    ),
    path(
        "presentations/custodial/",
        api_credentials.CustodialPresentationApi.as_view(),
        name="api-presentation-custodial",
    ),
    path(
        "presentations/",
        api_credentials.PresentationVerifyApi.as_view(),
        name="api-presentations",
    ),
]
