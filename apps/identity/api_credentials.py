"""API for wallets, credentials and presentations. Thin: every write is a service call."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from . import credential_selectors, credential_services, wallet_services
from .api_errors import ApiErrorSerializer, JSONBodyParser
from .models import Challenge, CredentialRecord, Role, TrustedIssuer, User, WalletEvent
from .permissions import IsOriginatorAdmin, IsOriginatorStaff, role_permission
from .ssi.credential_types import CREDENTIAL_TYPES

IsBorrower = role_permission({Role.BORROWER})
IsNodeOperator = role_permission({Role.NODE_OPERATOR})
ERRORS = {400: ApiErrorSerializer, 403: ApiErrorSerializer}


class _AnyJson(serializers.JSONField):
    """A JSON value of any shape (a credential, a presentation envelope)."""


# --- wallet -----------------------------------------------------------------------------------


class WalletEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = WalletEvent
        fields = ["kind", "did", "detail", "at"]


class WalletSerializer(serializers.Serializer):
    did = serializers.CharField()
    custody = serializers.CharField()
    created_at = serializers.DateTimeField()
    events = WalletEventSerializer(many=True, source="events.all")


class ChallengeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Challenge
        fields = ["nonce", "purpose", "domain", "request", "expires_at"]


class WalletApi(APIView):
    """The caller's DID, custody and wallet history (every use of a custodial key included)."""

    @extend_schema(responses=WalletSerializer)
    def get(self, request):
        wallet = wallet_services.wallet_of_user(user=request.user)
        return Response(WalletSerializer(wallet).data)


class WalletExportApi(APIView):
    """The custodial private key as a JWK, after the password is given again."""

    class WalletExportInputSerializer(serializers.Serializer):
        password = serializers.CharField(trim_whitespace=False)

    @extend_schema(request=WalletExportInputSerializer, responses={200: dict, **ERRORS})
    def post(self, request):
        data = self.WalletExportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(wallet_services.wallet_key_export(user=request.user, **data.validated_data))


class DidControlChallengeApi(APIView):
    """A challenge to sign with the key of the DID the caller wants to move to."""

    @extend_schema(request=None, responses={201: ChallengeSerializer})
    def post(self, request):
        challenge = wallet_services.challenge_issue(
            user=request.user, purpose=wallet_services.DID_CONTROL
        )
        return Response(ChallengeSerializer(challenge).data, status=status.HTTP_201_CREATED)


class SelfCustodyApi(APIView):
    """Move to self-custody: `proof` is a compact EdDSA JWS by the DID's key over {iss: DID,
    aud: this node's domain, nonce: a did_control challenge, purpose: "did_control"}."""

    class SelfCustodyInputSerializer(serializers.Serializer):
        proof = serializers.CharField(max_length=4096)

    @extend_schema(request=SelfCustodyInputSerializer, responses={200: WalletSerializer, **ERRORS})
    def post(self, request):
        data = self.SelfCustodyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wallet = wallet_services.wallet_self_custody_register(
            user=request.user, proof=data.validated_data["proof"]
        )
        return Response(WalletSerializer(wallet).data)


# --- credentials ------------------------------------------------------------------------------


class CredentialTypeSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    format = serializers.CharField()
    schema_id = serializers.CharField()
    claims_schema = serializers.DictField()
    labels = serializers.DictField(child=serializers.CharField())


class CredentialTypesApi(APIView):
    """Growr's credential types and the JSON Schema of each one's claims."""

    permission_classes = [AllowAny]

    @extend_schema(responses=CredentialTypeSerializer(many=True), auth=[])
    def get(self, request):
        return Response(CredentialTypeSerializer(CREDENTIAL_TYPES.values(), many=True).data)


class CredentialSerializer(serializers.ModelSerializer):
    issuer_organization = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = CredentialRecord
        fields = [
            "id",
            "credential_type",
            "format",
            "credential_id",
            "issuer_did",
            "issuer_organization",
            "holder_did",
            "source",
            "claims",
            "valid_from",
            "valid_until",
            "status_list_number",
            "status_index",
            "revoked_at",
            "created_at",
        ]


class CreditRecordEntrySerializer(serializers.Serializer):
    credential = CredentialSerializer(source="record")
    issuer_name = serializers.CharField()
    state = serializers.CharField()
    document = _AnyJson(source="record.document", help_text="the credential as issued")


class CreditRecordApi(APIView):
    """The caller's credit record: every credential, its issuer and its state now."""

    permission_classes = [IsBorrower]

    @extend_schema(responses=CreditRecordEntrySerializer(many=True))
    def get(self, request):
        entries = credential_selectors.credit_record(holder=request.user)
        return Response(CreditRecordEntrySerializer(entries, many=True).data)


class CredentialImportApi(APIView):
    """Add a credential issued elsewhere (an LDP JSON object, or an SD-JWT string), verified
    first: proof, holder, trusted issuer, validity and revocation."""

    permission_classes = [IsBorrower]

    class CredentialImportInputSerializer(serializers.Serializer):
        credential = _AnyJson()

    @extend_schema(
        request=CredentialImportInputSerializer, responses={201: CredentialSerializer, **ERRORS}
    )
    def post(self, request):
        if len(request.body) > credential_services.MAX_UPLOAD_BYTES:
            raise ParseError(
                f"A credential is at most {credential_services.MAX_UPLOAD_BYTES // 1024} KB."
            )
        data = self.CredentialImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = credential_services.credential_import(
            holder=request.user, credential=data.validated_data["credential"]
        )
        return Response(CredentialSerializer(record).data, status=status.HTTP_201_CREATED)


class StaffCredentialsApi(ListAPIView):
    """Credentials the caller's organization issued; staff issue new ones to borrowers."""

    permission_classes = [IsOriginatorStaff]
    serializer_class = CredentialSerializer

    class IssueSerializer(serializers.Serializer):
        holder_email = serializers.EmailField()
        credential_type = serializers.ChoiceField(choices=list(CREDENTIAL_TYPES))
        claims = serializers.DictField()
        valid_until = serializers.DateTimeField(required=False, allow_null=True)

    def get_queryset(self):
        return credential_selectors.organization_credentials(
            organization=self.request.user.organization
        )

    @extend_schema(request=IssueSerializer, responses={201: CredentialSerializer, **ERRORS})
    def post(self, request):
        data = self.IssueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        holder = User.objects.filter(email=data.validated_data["holder_email"].lower()).first()
        if holder is None:
            raise serializers.ValidationError({"holder_email": ["No account with this e-mail."]})
        record = credential_services.credential_issue(
            issuer=request.user,
            holder=holder,
            credential_type=data.validated_data["credential_type"],
            claims=data.validated_data["claims"],
            valid_until=data.validated_data.get("valid_until"),
        )
        return Response(CredentialSerializer(record).data, status=status.HTTP_201_CREATED)


class StaffCredentialsBulkApi(APIView):
    """Issue from a CSV file (multipart `file`): all or nothing, every wrong row reported."""

    permission_classes = [IsOriginatorStaff]
    parser_classes = [MultiPartParser]

    class BulkResultSerializer(serializers.Serializer):
        issued = serializers.IntegerField()

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        responses={201: BulkResultSerializer, **ERRORS},
    )
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise serializers.ValidationError({"file": ["Attach the CSV as `file`."]})
        if upload.size > credential_services.MAX_CSV_BYTES:
            raise serializers.ValidationError({"file": ["The file is larger than 1 MB."]})
        result = credential_services.credentials_issue_csv(issuer=request.user, data=upload.read())
        if result.errors:
            raise serializers.ValidationError({"file": result.errors})
        return Response({"issued": len(result.issued)}, status=status.HTTP_201_CREATED)


class StaffCredentialRevokeApi(APIView):
    """Revoke a credential the caller's organization issued (originator admins)."""

    permission_classes = [IsOriginatorAdmin]

    class RevokeInputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=300, allow_blank=True, default="")

    @extend_schema(request=RevokeInputSerializer, responses={200: CredentialSerializer, **ERRORS})
    def post(self, request, pk: int):
        record = get_object_or_404(
            credential_selectors.organization_credentials(organization=request.user.organization),
            pk=pk,
        )
        data = self.RevokeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credential_services.credential_revoke(
            actor=request.user, credential=record, reason=data.validated_data["reason"]
        )
        record.refresh_from_db()
        return Response(CredentialSerializer(record).data)


class TrustedIssuerSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrustedIssuer
        fields = ["did", "label", "added_at"]
        read_only_fields = ["added_at"]
        extra_kwargs = {"did": {"validators": []}}


class TrustedIssuersApi(APIView):
    """Issuers outside this node whose credentials it accepts; the node operator edits it."""

    def get_permissions(self):
        return [IsNodeOperator()] if self.request.method != "GET" else [IsAuthenticated()]

    @extend_schema(responses=TrustedIssuerSerializer(many=True))
    def get(self, request):
        return Response(TrustedIssuerSerializer(TrustedIssuer.objects.all(), many=True).data)

    @extend_schema(
        request=TrustedIssuerSerializer, responses={201: TrustedIssuerSerializer, **ERRORS}
    )
    def post(self, request):
        data = TrustedIssuerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issuer = credential_services.trusted_issuer_add(actor=request.user, **data.validated_data)
        return Response(TrustedIssuerSerializer(issuer).data, status=status.HTTP_201_CREATED)


class TrustedIssuerApi(APIView):
    permission_classes = [IsNodeOperator]

    @extend_schema(responses={204: None, 404: ApiErrorSerializer})
    def delete(self, request, did: str):
        if not credential_services.trusted_issuer_remove(actor=request.user, did=did):
            return Response(
                {"error": {"code": "not_found", "message": "This issuer is not in the list."}},
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- presentations ----------------------------------------------------------------------------


class PresentationChallengeApi(APIView):
    """A single-use challenge, bound to this node's domain and to the caller, asking for
    `request`: {credential type: [claim names]}."""

    class PresentationChallengeInputSerializer(serializers.Serializer):
        request = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))

    @extend_schema(
        request=PresentationChallengeInputSerializer, responses={201: ChallengeSerializer, **ERRORS}
    )
    def post(self, request):
        data = self.PresentationChallengeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        challenge = credential_services.presentation_challenge_issue(
            user=request.user, request=data.validated_data["request"]
        )
        return Response(ChallengeSerializer(challenge).data, status=status.HTTP_201_CREATED)


class CustodialPresentationApi(APIView):
    """For a custodial wallet: the node signs a presentation of the credentials (and, for
    SD-JWT ones, the claims) the holder chose, for one of their open challenges."""

    permission_classes = [IsBorrower]

    class CustodialPresentationInputSerializer(serializers.Serializer):
        nonce = serializers.CharField(max_length=64)
        credentials = serializers.ListField(child=serializers.IntegerField(), max_length=10)
        disclose = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        )

    @extend_schema(request=CustodialPresentationInputSerializer, responses={200: dict, **ERRORS})
    def post(self, request):
        data = self.CustodialPresentationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        disclose = {}
        for key, claims in data.validated_data.get("disclose", {}).items():
            if not str(key).isdigit():
                raise serializers.ValidationError({"disclose": ["Keys are credential ids."]})
            disclose[int(key)] = claims
        envelope = credential_services.presentation_build_custodial(
            holder=request.user,
            nonce=data.validated_data["nonce"],
            credential_ids=data.validated_data["credentials"],
            disclose=disclose,
        )
        return Response(envelope)


class PresentationResultSerializer(serializers.Serializer):
    verified = serializers.BooleanField()
    holder = serializers.CharField()
    issuers = serializers.ListField(child=serializers.CharField())
    disclosed = serializers.DictField(help_text="only the claims the challenge asked for")


class PresentationVerifyApi(APIView):
    """Verify a presentation answering one of this node's challenges. A refusal is a 400 whose
    error code names the check that failed: format, challenge, signature, holder_binding,
    schema, issuer_trust, validity, revocation or request."""

    parser_classes = [JSONBodyParser]

    class PresentationInputSerializer(serializers.Serializer):
        presentation = _AnyJson(help_text='{"presentation": "<JWT VP>", "sd_jwt": [...]}')

    @extend_schema(
        request=PresentationInputSerializer, responses={200: PresentationResultSerializer, **ERRORS}
    )
    def post(self, request):
        if len(request.body) > credential_services.MAX_UPLOAD_BYTES * 4:
            raise ParseError("A presentation is at most 256 KB.")
        data = self.PresentationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = credential_services.presentation_verify(
            envelope=data.validated_data["presentation"], user=request.user
        )
        if not outcome.verified:
            return Response(
                {"error": {"code": outcome.failed_check, "message": outcome.reason}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        record = outcome.record
        return Response(
            {
                "verified": True,
                "holder": record.holder_did,
                "issuers": record.issuers,
                "disclosed": record.disclosed,
            }
        )
