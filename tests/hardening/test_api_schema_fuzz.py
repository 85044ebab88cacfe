"""The API against the OpenAPI document it serves, with inputs schemathesis makes up.

Anyone on the internet calls the public operations with whatever they like, and every other
operation without a token; Wanjiru (borrower), Ines (investor) and Juma (Kijani's agent) call
the operations of their role with their API token, on a world where their loans, commitments
and projects exist, so that the made-up bodies reach the code behind the permission checks.
Whatever they send: no 5xx, and every answer has a status code, a media type and a body the
document promises.
"""

from __future__ import annotations

import copy
import itertools
import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
]


def fuzz(max_examples: int) -> settings:
    # Derandomized, so CI asks the same questions every run and a failure reproduces.
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


APP = get_wsgi_application()
DOCUMENT = schemathesis.openapi.from_wsgi("/api/schema/?format=json", APP).raw_schema


def _schema(*, boundaries: bool):
    """The served document as schemathesis reads it. BOUNDARIES adds its coverage phase (edge
    values of every field, each documented input left out or malformed, deterministically),
    which is where most of the questions come from; methods the document does not name are the
    authorization matrix's business."""
    loaded = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT))
    loaded.app = APP
    loaded.config.phases.update(
        phases=["examples", "coverage", "fuzzing"] if boundaries else ["examples", "fuzzing"]
    )
    loaded.config.phases.coverage.unexpected_methods = set()
    return loaded


def _needs_token(ctx) -> bool:
    return any("tokenAuth" in scheme for scheme in ctx.operation.definition.raw.get("security", []))


def _public(ctx) -> bool:
    return not _needs_token(ctx)


# Which operations each persona calls as themself: the ones of their role. Everyone else's are
# refused before any input is read, which the anonymous pass and the authorization matrix ask.
BORROWER = r"^/api/(loans|wallet|credentials|presentations|me|auth/token)/"
INVESTOR = r"^/api/(commitments|portfolio|statements|me)/"
AGENT = r"^/api/(staff|trusted-issuers|presentations)/"

public = _schema(boundaries=True).include(_public)
guarded = _schema(boundaries=False).include(_needs_token)
personas = _schema(boundaries=True)


def _real_ids(world) -> dict[str, dict[str, object]]:
    """Path parameters of the world's objects, by path pattern: half the examples ask about
    a real loan or commitment instead of a made-up id that can only be a 404."""
    loan, submitted = world.active_loan.pk, world.submitted_loan.pk
    return {
        r"^/api/loans/\{id\}": {"id": loan},
        r"^/api/commitments/\{id\}": {"id": str(world.commitment.public_id)},
        r"^/api/staff/loans/\{id\}/(approve|reject|request-information)": {"id": submitted},
        r"^/api/staff/loans/\{id\}": {"id": loan},
        r"^/api/staff/repayments/\{id\}": {"id": world.reported_repayment.pk},
        r"^/api/staff/commitments/\{id\}": {"id": str(world.commitment.public_id)},
        r"^/api/staff/projects/\{id\}": {"id": str(world.goats.pk)},
        r"^/api/staff/credentials/\{id\}": {"id": world.credential.pk},
        r"^/api/projects/\{id\}": {"id": str(world.goats.pk)},
    }


@pytest.fixture
def wsgi_in_the_test_transaction():
    """The WSGI handler closes the database connection around each request, as it should in
    production; here the connection holds the test's transaction, so, as Django's test client
    does, keep it open."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def call(world, db, wsgi_in_the_test_transaction):
    """Call CASE as PERSONA and hold the answer to the document."""
    turns = itertools.count()
    real_ids = _real_ids(world)

    def call(case, persona: str | None) -> None:
        if next(turns) % 2 == 0:
            for pattern, ids in real_ids.items():
                if re.match(pattern, case.path):
                    case.path_parameters = {**(case.path_parameters or {}), **ids}
                    break
        headers = {}
        if persona is not None:
            headers["Authorization"] = f"Token {world.tokens[persona]}"
        case.call_and_validate(headers=headers, checks=CHECKS)

    return call


@public.parametrize()
@fuzz(max_examples=12)
def test_anyone_on_the_internet_gets_a_documented_answer_from_the_public_api(case, call):
    call(case, None)


@guarded.parametrize()
@fuzz(max_examples=2)
def test_anyone_without_a_token_is_refused_with_a_documented_401(case, call):
    # The token is checked before any input is read: a couple of questions say all there is.
    call(case, None)


@personas.include(path_regex=BORROWER).parametrize()
@fuzz(max_examples=10)
def test_wanjiru_the_borrower_gets_a_documented_answer(case, call):
    call(case, "wanjiru")


@personas.include(path_regex=INVESTOR).parametrize()
@fuzz(max_examples=10)
def test_ines_the_investor_gets_a_documented_answer(case, call):
    call(case, "ines")


@personas.include(path_regex=AGENT).parametrize()
@fuzz(max_examples=10)
def test_juma_the_agent_gets_a_documented_answer(case, call):
    call(case, "juma")
