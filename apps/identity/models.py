"""People and organizations of a node. Private data: none of it ever enters a public book."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone


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
