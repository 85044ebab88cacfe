"""Funding stories: Ines and Pablo fund Kijani's dairy goat project; Amina and Juma confirm
the funds they receive. The loan fixtures of tests/applications serve the distribution stories."""

from __future__ import annotations

import pytest

from tests.applications.conftest import (  # noqa: F401 (fixtures)
    active_loan,
    apply,
    credentials_of,
    goats,
    simple_goats,
)
from tests.funding.network_books import amani_projects, kijani_projects  # noqa: F401 (fixtures)


@pytest.fixture
def commit():
    from apps.funding import services

    counter = iter(range(10**6))

    def commit(investor, project, amount, request_id=None):
        return services.commitment_create(
            investor=investor,
            project=project,
            amount=amount,
            request_id=request_id or f"request-{next(counter):04d}",
        )

    return commit
