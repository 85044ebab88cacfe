"""People and organizations of a node. Private data: none of it ever enters a public book."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .ssi.credential_types import CREDENTIAL_TYPES


class Role(models.TextChoices):
    NODE_OPERATOR = "node_operator", "Node operator"
    ORIGINATOR_ADMIN = "originator_admin", "Originator admin"
    ORIGINATOR_AGENT = "originator_agent", "Originator agent"
    BORROWER = "borrower", "Borrower"
    INVESTOR = "investor", "Investor"


STAFF_ROLES = frozenset({Role.ORIGINATOR_ADMIN, Role.ORIGINATOR_AGENT})
SELF_REGISTRATION_ROLES = frozenset({Role.BORROWER, Role.INVESTOR})
# Sorted, so the migration that holds the constraint is the same in every process.
STAFF_ROLE_VALUES = sorted(r.value for r in STAFF_ROLES)


class Organization(models.Model):
    """An originator: a micro-finance institution, cooperative or fintech lending here."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(role=Role.NODE_OPERATOR, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person signing in to the node. The e-mail address is the login.

    Each account has exactly one role; staff roles belong to one originator organization.
    `is_staff` only opens Django's /admin/ (node operators), not the /staff/ portal.
    """

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200)
    role = models.CharField(max_length=32, choices=Role.choices)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                name="staff_role_has_organization",
                condition=(
                    Q(role__in=STAFF_ROLE_VALUES, organization__isnull=False)
                    | (~Q(role__in=STAFF_ROLE_VALUES) & Q(organization__isnull=True))
                ),
            )
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class StaffInvitation(models.Model):
    """An originator admin's invitation for a colleague to join as admin or agent.

    Only a hash of the token is stored: the link in the e-mail is the only copy of the secret.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(
        max_length=32, choices=[(r.value, r.label) for r in Role if r in STAFF_ROLES]
    )
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization} ({self.get_role_display()})"

    def is_open(self, *, now=None) -> bool:
        now = now or timezone.now()
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


# --- Wallets, credentials and presentations ------------------------------------------------


class Custody(models.TextChoices):
    CUSTODIAL = "custodial", "Custodial (the node keeps the key)"
    SELF = "self", "Self-custody (the holder keeps the key)"


class Wallet(models.Model):
    """The did:key of a person or an organization. Custodial: the node keeps the private key,
    sealed under the node master key. Self-custody: the node knows only the DID."""

    user = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="wallet"
    )
    organization = models.OneToOneField(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="wallet"
    )
    did = models.CharField(max_length=120, unique=True)
    custody = models.CharField(max_length=16, choices=Custody.choices, default=Custody.CUSTODIAL)
    sealed_key = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="wallet_has_one_owner",
                condition=(
                    Q(user__isnull=False, organization__isnull=True)
                    | Q(user__isnull=True, organization__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="wallet_key_matches_custody",
                condition=(
                    Q(custody="custodial", sealed_key__isnull=False)
                    | Q(custody="self", sealed_key__isnull=True)
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.organization}: {self.did}"


class WalletEvent(models.Model):
    """What happened to a wallet and every use of a custodial key, shown to its owner."""

    class Kind(models.TextChoices):
        CREATED = "created", "Wallet created"
        KEY_EXPORTED = "key_exported", "Private key exported"
        EXPORT_REFUSED = "export_refused", "Key export refused: wrong password"
        SELF_CUSTODY = "self_custody", "Switched to self-custody"
        PRESENTED = "presented", "Presentation signed by the node for the holder"
        AGREEMENT_SIGNED = "agreement_signed", "Loan agreement signed by the node for the holder"

    wallet = models.ForeignKey(Wallet, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    did = models.CharField(max_length=120)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.did})"


class Challenge(models.Model):
    """A single-use nonce this node handed out: to prove control of a DID, or to answer with a
    presentation (then bound to this node's domain and, optionally, to what it asks for)."""

    class Purpose(models.TextChoices):
        DID_CONTROL = "did_control", "Prove control of a DID"
        PRESENTATION = "presentation", "Present credentials"

    nonce = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="challenges"
    )
    domain = models.CharField(max_length=253)
    request = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="challenge_expiry")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.nonce[:8]}…"


class TrustedIssuer(models.Model):
    """An issuer outside this node whose credentials the operator accepts. Organizations on this
    node and GROWR_TRUSTED_ISSUERS are trusted without a row."""

    did = models.CharField(max_length=120, unique=True)
    label = models.CharField(max_length=200)
    added_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return f"{self.label} ({self.did})"


class StatusList(models.Model):
    """One bitstring status list of an organization on this node. Every change is signed by the
    organization's key and published, whole, to the credential status book."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="status_lists"
    )
    number = models.PositiveIntegerField()
    purpose = models.CharField(max_length=16, default="revocation")
    bits = models.BinaryField()
    seq = models.PositiveBigIntegerField(default=0)
    issued = models.PositiveIntegerField(default=0)
    # Bits are handed out as (multiplier * n + offset) mod the list size: a shuffled order.
    multiplier = models.PositiveIntegerField(default=1)
    offset = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "number", "purpose"], name="status_list_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization} {self.purpose} list {self.number}"


class StatusListSeen(models.Model):
    """The newest version of another issuer's status list this node has verified, so a book that
    later serves an older signed version (a replay) cannot undo a revocation here."""

    issuer = models.CharField(max_length=120)
    number = models.PositiveIntegerField()
    purpose = models.CharField(max_length=16)
    seq = models.PositiveBigIntegerField()
    encoded_list = models.TextField()
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "number", "purpose"], name="status_list_seen_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.purpose} list {self.number} at seq {self.seq}"


class CredentialRecord(models.Model):
    """A credential in a borrower's credit record: issued here, or imported after verification.
    Private: the document holds personal claims and never leaves this node unasked."""

    class Source(models.TextChoices):
        ISSUED = "issued", "Issued on this node"
        IMPORTED = "imported", "Imported by the holder"

    holder = models.ForeignKey(User, on_delete=models.PROTECT, related_name="credentials")
    holder_did = models.CharField(max_length=120)
    credential_type = models.CharField(max_length=40)
    format = models.CharField(max_length=8)
    credential_id = models.CharField(max_length=200, unique=True)
    issuer_did = models.CharField(max_length=120)
    issuer_organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="issued"
    )
    issued_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    # The LDP JSON object, or the SD-JWT string with all its disclosures, exactly as issued.
    document = models.JSONField()
    claims = models.JSONField()
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    status_list = models.ForeignKey(
        StatusList, null=True, blank=True, on_delete=models.PROTECT, related_name="credentials"
    )
    status_list_number = models.PositiveIntegerField(null=True, blank=True)
    status_index = models.PositiveIntegerField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revocation_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-valid_from", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status_list", "status_index"], name="credential_status_bit"
            )
        ]
        indexes = [
            models.Index(fields=["holder", "credential_type"], name="credential_holder"),
            # What the staff dashboard counts: an organization's issued and revoked credentials.
            models.Index(
                fields=["issuer_organization", "source", "revoked_at"], name="credential_issuer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.credential_type} for {self.holder} from {self.issuer_did}"

    @property
    def type_title(self) -> str:
        known = CREDENTIAL_TYPES.get(self.credential_type)
        return known.title if known else self.credential_type


class PresentationRecord(models.Model):
    """What the node keeps of one presentation: whose it was, the result, which check failed,
    and only the disclosed claims the request asked for."""

    challenge = models.OneToOneField(
        Challenge, on_delete=models.PROTECT, related_name="presentation"
    )
    holder = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="presentations"
    )
    holder_did = models.CharField(max_length=120, blank=True)
    verified = models.BooleanField()
    failed_check = models.CharField(max_length=32, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    disclosed = models.JSONField(default=dict)
    issuers = models.JSONField(default=list)
    verified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-verified_at", "-id"]

    def __str__(self) -> str:
        outcome = "verified" if self.verified else f"refused ({self.failed_check})"
        return f"presentation {self.challenge.nonce[:8]}… {outcome}"


class Notification(models.Model):
    """News for one person: kept here so that what happened while no page of theirs was open,
    or in another process than the one serving their socket, still reaches them."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32)
    text = models.CharField(max_length=500)
    link = models.CharField(max_length=300, blank=True)  # a path on this node, or ""
    # Set by senders that may hear the same news more than once (a replicated book indexed
    # again): a second notification with the same key is not made.
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "id"], name="notification_by_user")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="notification_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.text[:40]}"
