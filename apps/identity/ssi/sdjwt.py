"""SD-JWT VCs (RFC 9901) with EdDSA, on the `sd-jwt` reference package.

The package pins ES256 for key-binding JWTs and leaves exp/nbf to the caller (its source says
`TODO: Check exp/nbf/iat`); the verifier here pins EdDSA for both signatures and the caller
(credentials.py) checks validity times like any other credential's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from .didkey import Ed25519Key, InvalidDid, b64url_encode, did_from_jwk, public_key_from_did

SD_JWT_TYP = "vc+sd-jwt"
MAX_SD_JWT_BYTES = 64 * 1024
ALWAYS_VISIBLE = ("iss", "iat", "nbf", "exp", "vct", "cnf", "status", "jti")


class InvalidSdJwt(ValueError):
    pass


def _jwk(key: Ed25519Key, *, private: bool) -> JWK:
    return JWK(**(key.private_jwk() if private else key.public_jwk()))


@lru_cache(maxsize=1024)
def _public_jwk_of(did: str) -> JWK:
    # Cached: issuers are few and a did:key always names the same key.
    return JWK(kty="OKP", crv="Ed25519", x=b64url_encode(public_key_from_did(did)))


def issue_sd_jwt(
    *,
    issuer_key: Ed25519Key,
    holder_did: str,
    vct: str,
    claims: dict,
    issued_at: datetime,
    expires_at: datetime | None,
    credential_id: str,
    status: dict | None,
) -> str:
    """An SD-JWT whose every personal claim is a separate disclosure, bound to the holder's key."""
    payload: dict = {
        "iss": issuer_key.did,
        "jti": credential_id,
        "iat": int(issued_at.timestamp()),
        "nbf": int(issued_at.timestamp()),
        "vct": vct,
    }
    if expires_at is not None:
        payload["exp"] = int(expires_at.timestamp())
    if status is not None:
        payload["status"] = status
    for name, value in claims.items():
        payload[SDObj(name)] = value
    issuer = SDJWTIssuer(
        payload,
        _jwk(issuer_key, private=True),
        holder_key=_public_jwk_of(holder_did),
        sign_alg="EdDSA",
        add_decoy_claims=True,
        extra_header_parameters={"typ": SD_JWT_TYP, "kid": issuer_key.verification_method},
    )
    return issuer.sd_jwt_issuance


def present_sd_jwt(
    *, issuance: str, disclose: Iterable[str], holder_key: Ed25519Key, nonce: str, audience: str
) -> str:
    holder = SDJWTHolder(issuance)
    holder.create_presentation(
        {name: True for name in disclose},
        nonce=nonce,
        aud=audience,
        holder_key=_jwk(holder_key, private=True),
        sign_alg="EdDSA",
    )
    return holder.sd_jwt_presentation


class _EdDSAVerifier(SDJWTVerifier):
    def _verify_sd_jwt(self, cb_get_issuer_key, sign_alg=None):
        super()._verify_sd_jwt(cb_get_issuer_key, sign_alg="EdDSA")

    def _verify_key_binding_jwt(self, expected_aud=None, expected_nonce=None, sign_alg=None):
        super()._verify_key_binding_jwt(expected_aud, expected_nonce, sign_alg="EdDSA")


def _issuer_key(issuer: str | None, header: dict) -> JWK:
    if not isinstance(issuer, str):
        raise InvalidSdJwt("the SD-JWT names no issuer (iss)")
    if header.get("typ") != SD_JWT_TYP:
        raise InvalidSdJwt(f"the SD-JWT's typ must be {SD_JWT_TYP}")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or kid.split("#", 1)[0] != issuer):
        raise InvalidSdJwt("the SD-JWT's key id is not a key of its issuer")
    try:
        return _public_jwk_of(issuer)
    except InvalidDid as exc:
        raise InvalidSdJwt(f"issuer: {exc}") from exc


def verify_sd_jwt(
    token: str, *, nonce: str | None = None, audience: str | None = None
) -> tuple[dict, str]:
    """The issuer-signed payload with the disclosed claims, and the holder's DID from `cnf`.

    With NONCE and AUDIENCE the key-binding JWT must be there, signed by the holder over them."""
    if not isinstance(token, str) or not token or len(token) > MAX_SD_JWT_BYTES:
        raise InvalidSdJwt(f"an SD-JWT is a string of at most {MAX_SD_JWT_BYTES} bytes")
    if (nonce is None) != (audience is None):
        raise ValueError("give both nonce and audience, or neither")
    try:
        verifier = _EdDSAVerifier(token, _issuer_key, expected_aud=audience, expected_nonce=nonce)
        payload = verifier.get_verified_payload()
    except InvalidSdJwt:
        raise
    except Exception as exc:  # the package raises anything from KeyError to JWException
        raise InvalidSdJwt(f"the SD-JWT does not verify: {exc}") from exc
    cnf = payload.get("cnf")
    try:
        holder = did_from_jwk(cnf.get("jwk") if isinstance(cnf, dict) else None)
    except InvalidDid as exc:
        raise InvalidSdJwt(f"holder key (cnf): {exc}") from exc
    return payload, holder


def without_key_binding(token: str) -> str:
    """The issued SD-JWT and its disclosures, without any key-binding JWT after the last '~'."""
    return token[: token.rfind("~") + 1] if "~" in token else token
