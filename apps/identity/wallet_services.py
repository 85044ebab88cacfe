"""Writes for wallets: DIDs, custodial keys, export, the move to self-custody, challenges."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.ledger.sealing import seal, unseal

from .credential_selectors import node_domain
from .models import Challenge, Custody, Organization, User, Wallet, WalletEvent
from .ssi import did_control
from .ssi.didkey import Ed25519Key

CHALLENGE_TTL = timedelta(minutes=10)
DID_CONTROL = did_control.PURPOSE


class ChallengeError(ValidationError):
    """A nonce that is unknown, someone else's, expired or already used."""


def _new_wallet(**owner) -> Wallet:
    key = Ed25519Key.generate()
    try:
        with transaction.atomic():
            wallet = Wallet.objects.create(did=key.did, sealed_key=seal(key.seed), **owner)
    except IntegrityError:
        # Another request made this owner's wallet first; theirs is the one.
        return Wallet.objects.get(**owner)
    WalletEvent.objects.create(wallet=wallet, kind=WalletEvent.Kind.CREATED, did=wallet.did)
    return wallet


def wallet_of_user(*, user: User) -> Wallet:
    """The person's wallet, made (custodial) the first time it is needed."""
    wallet = Wallet.objects.filter(user=user).first()
    return wallet or _new_wallet(user=user)


def wallet_of_organization(*, organization: Organization) -> Wallet:
    wallet = Wallet.objects.filter(organization=organization).first()
    return wallet or _new_wallet(organization=organization)


def custodial_key(*, wallet: Wallet) -> Ed25519Key:
    if wallet.custody != Custody.CUSTODIAL or wallet.sealed_key is None:
        raise PermissionDenied("This wallet is in self-custody: the node does not hold its key.")
    return Ed25519Key(unseal(bytes(wallet.sealed_key)))


EXPORT_ATTEMPTS = 5
EXPORT_COOLOFF = timedelta(minutes=15)


def wallet_key_export(*, user: User, password: str) -> dict:
    """The custodial private key as a JWK, for the holder to take into their own wallet. The
    password is asked again (a session left open must not hand the key over), and after
    EXPORT_ATTEMPTS wrong ones within EXPORT_COOLOFF the export waits, right password or not.
    Every refusal is kept in the wallet's history, which the holder sees."""
    minutes = int(EXPORT_COOLOFF.total_seconds() // 60)
    # The wallet row is locked while counting and recording, so parallel guesses queue and
    # count; the refusal is committed before it is reported.
    with transaction.atomic():
        wallet = Wallet.objects.select_for_update().get(pk=wallet_of_user(user=user).pk)
        since = timezone.now() - EXPORT_COOLOFF
        refused = wallet.events.filter(kind=WalletEvent.Kind.EXPORT_REFUSED, at__gte=since)
        if refused.count() >= EXPORT_ATTEMPTS:
            problem = f"Too many wrong passwords; try again in {minutes} minutes."
        elif not user.check_password(password):
            WalletEvent.objects.create(
                wallet=wallet, kind=WalletEvent.Kind.EXPORT_REFUSED, did=wallet.did, actor=user
            )
            problem = "The password is not right."
        else:
            key = custodial_key(wallet=wallet)
            WalletEvent.objects.create(
                wallet=wallet, kind=WalletEvent.Kind.KEY_EXPORTED, did=wallet.did, actor=user
            )
            return {**key.private_jwk(), "kid": key.verification_method}
    raise ValidationError({"password": problem})


def challenge_issue(*, user: User | None, purpose: str, request: dict | None = None) -> Challenge:
    now = timezone.now()
    return Challenge.objects.create(
        nonce=secrets.token_urlsafe(32),
        purpose=purpose,
        user=user,
        domain=node_domain(),
        request=request,
        created_at=now,
        expires_at=now + CHALLENGE_TTL,
    )


_TAKE_CHALLENGE = (
    "UPDATE identity_challenge SET used_at = %s "
    "WHERE nonce = %s AND purpose = %s AND used_at IS NULL AND expires_at > %s "
    "AND (user_id IS NULL OR user_id = %s) "
    "RETURNING *, (SELECT did FROM identity_wallet w "
    "WHERE w.user_id = identity_challenge.user_id) AS holder_did"
)


def challenge_take(*, nonce: str, purpose: str, user: User | None) -> Challenge:
    """Use up a challenge: at most once, before it expires, by the person it was issued to.

    One conditional UPDATE (it also brings the holder's DID along): a challenge cannot be used
    twice however many requests race for it. Only a refusal reads the row again, to say why."""
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    taken = list(
        Challenge.objects.raw(_TAKE_CHALLENGE, [at, nonce, purpose, at, user.pk if user else None])
    )
    if taken:
        return taken[0]
    challenge = Challenge.objects.filter(nonce=nonce, purpose=purpose).first()
    if challenge is None:
        raise ChallengeError("This challenge was not issued by this node.")
    if challenge.user_id is not None and (user is None or challenge.user_id != user.pk):
        raise ChallengeError("This challenge was issued to someone else.")
    if challenge.used_at is not None:
        raise ChallengeError("This challenge was used already; ask for a new one.")
    raise ChallengeError("This challenge expired; ask for a new one.")


def did_control_proof_check(*, proof: str, user: User) -> str:
    """The DID a holder proved control of (ssi.did_control), answering one of their
    did_control challenges, which it uses up."""
    try:
        did, nonce = did_control.read_proof(proof, domain=node_domain())
    except did_control.InvalidProof as exc:
        raise ValidationError({"proof": str(exc)}) from exc
    challenge_take(nonce=nonce, purpose=DID_CONTROL, user=user)
    return did


@transaction.atomic
def wallet_self_custody_register(*, user: User, proof: str) -> Wallet:
    """Move a person's wallet to self-custody with a DID they proved they control. The node
    forgets the custodial key; the move is recorded in the wallet's history."""
    did = did_control_proof_check(proof=proof, user=user)
    wallet = Wallet.objects.select_for_update().get(pk=wallet_of_user(user=user).pk)
    if Wallet.objects.filter(did=did).exclude(pk=wallet.pk).exists():
        raise ValidationError({"proof": "This DID belongs to another account on this node."})
    previous = wallet.did
    wallet.did, wallet.custody, wallet.sealed_key = did, Custody.SELF, None
    wallet.save(update_fields=["did", "custody", "sealed_key"])
    detail = "same DID as before" if did == previous else f"DID changed from {previous}"
    WalletEvent.objects.create(
        wallet=wallet, kind=WalletEvent.Kind.SELF_CUSTODY, did=did, actor=user, detail=detail
    )
    return wallet
