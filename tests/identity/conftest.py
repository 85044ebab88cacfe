"""Credentials for the stories: Amina (admin) and Juma (agent) of Kijani issue them to the
borrowers Wanjiru and Otieno. And a cache shared by the node's processes, as Redis is."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from apps.identity import credential_services


@pytest.fixture
def shared_cache(settings):
    """What the node keeps only in a cache its processes share (settings: GROWR_CACHE_SHARED),
    kept in this one's, whichever cache the tests run on."""
    settings.GROWR_CACHE_SHARED = True
    cache.clear()


@pytest.fixture
def issue(kijani):
    def issue(by, to, credential_type="age", claims=None, **extra):
        claims = claims if claims is not None else {"birthDate": "1990-02-03"}
        return credential_services.credential_issue(
            issuer=by, holder=to, credential_type=credential_type, claims=claims, **extra
        )

    return issue


KYC_CLAIMS = {
    "given_name": "Wanjiru",
    "family_name": "Kamau",
    "birthdate": "1990-02-03",
    "nationality": "KE",
    "address": "Plot 12, Nakuru",
    "id_number": "23456789",
}
