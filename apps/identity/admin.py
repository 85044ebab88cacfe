from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.contrib.auth.forms import UserCreationForm as DjangoUserCreationForm
from django.core.exceptions import ValidationError

from . import credential_services
from .models import CredentialRecord, Organization, Role, StaffInvitation, TrustedIssuer, User
from .permissions import has_role
from .ssi.didkey import InvalidDid, public_key_from_did


class UserCreationForm(DjangoUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name", "role", "organization")


class UserChangeForm(DjangoUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "role", "organization", "is_active", "last_login"]
    list_filter = ["role", "organization", "is_active", "is_staff"]
    list_select_related = ["organization"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name", "role", "organization")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "role", "organization", "password1", "password2"),
            },
        ),
    )


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(StaffInvitation)
class StaffInvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "created_at", "expires_at", "accepted_at"]
    list_select_related = ["organization"]
    list_filter = ["organization", "role"]
    readonly_fields = ["token_hash", "accepted_user"]


class TrustedIssuerForm(forms.ModelForm):
    class Meta:
        model = TrustedIssuer
        fields = ["did", "label"]

    def clean_did(self) -> str:
        # Checked here too, so a wrong DID is shown on the form (the service checks it again).
        did = self.cleaned_data["did"].strip()
        try:
            public_key_from_did(did)
        except InvalidDid as exc:
            raise ValidationError(str(exc)) from exc
        return did


@admin.register(TrustedIssuer)
class TrustedIssuerAdmin(admin.ModelAdmin):
    """Issuers outside this node whose credentials it accepts. Every change goes through the
    credential services, which republish the node's public profile."""

    form = TrustedIssuerForm
    list_display = ["label", "did", "added_by", "added_at"]
    list_select_related = ["added_by"]
    search_fields = ["label", "did"]
    readonly_fields = ["added_by", "added_at"]

    def get_readonly_fields(self, request, obj=None):
        # The DID is the issuer: to trust another one, add it and delete this one.
        return [*self.readonly_fields, "did"] if obj else self.readonly_fields

    def _operator(self, request) -> bool:
        return has_role(request.user, {Role.NODE_OPERATOR})

    def has_add_permission(self, request) -> bool:
        return self._operator(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._operator(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._operator(request) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        saved = credential_services.trusted_issuer_add(
            actor=request.user, did=obj.did, label=obj.label
        )
        obj.pk, obj.label, obj.added_by, obj.added_at = (
            saved.pk,
            saved.label,
            saved.added_by,
            saved.added_at,
        )

    def delete_model(self, request, obj):
        credential_services.trusted_issuer_remove(actor=request.user, did=obj.did)

    def delete_queryset(self, request, queryset):
        for did in list(queryset.values_list("did", flat=True)):
            credential_services.trusted_issuer_remove(actor=request.user, did=did)


@admin.register(CredentialRecord)
class CredentialRecordAdmin(admin.ModelAdmin):
    """Read only, and without the document and claims: personal data stays with the borrower's
    record and the staff who issued it. Issuing and revoking happen on the staff pages."""

    list_display = [
        "credential_type",
        "holder",
        "issuer_organization",
        "source",
        "valid_from",
        "valid_until",
        "revoked_at",
    ]
    list_filter = ["credential_type", "source", "issuer_organization"]
    list_select_related = ["holder", "issuer_organization"]
    search_fields = ["holder__email", "credential_id", "issuer_did"]
    fields = [
        "holder",
        "holder_did",
        "credential_type",
        "format",
        "source",
        "credential_id",
        "issuer_did",
        "issuer_organization",
        "issued_by",
        "valid_from",
        "valid_until",
        "status_list_number",
        "status_index",
        "revoked_at",
        "revoked_by",
        "revocation_reason",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
