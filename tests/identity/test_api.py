"""The API: tokens, the signed-in person, and the staff-only team endpoints."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.identity.models import Role, StaffInvitation


@pytest.fixture
def api():
    return APIClient()


def _token_for(api, person) -> str:
    response = api.post(
        reverse("api-token"),
        {"email": person.email, "password": "correct horse battery staple"},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


def test_an_investor_gets_a_token_and_reads_their_profile(api, ines):
    token = _token_for(api, ines)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    me = api.get(reverse("api-me"))

    assert me.status_code == 200
    assert me.json()["email"] == ines.email
    assert me.json()["role"] == Role.INVESTOR


def test_wrong_password_gets_no_token(api, ines):
    response = api.post(
        reverse("api-token"), {"email": ines.email, "password": "nope"}, format="json"
    )

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "E-mail or password is wrong."


def test_anonymous_calls_get_401_with_a_way_to_authenticate(api, db):
    response = api.get(reverse("api-me"))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_an_investor_calling_a_staff_api_is_refused(api, ines):
    api.credentials(HTTP_AUTHORIZATION=f"Token {_token_for(api, ines)}")

    team = api.get(reverse("api-staff-team"))
    invite = api.post(
        reverse("api-staff-invitations"),
        {"email": "x@example.org", "role": Role.ORIGINATOR_ADMIN},
        format="json",
    )

    assert team.status_code == 403
    assert team.json()["error"]["message"] == "Your account's role does not allow this request."
    assert invite.status_code == 403
    assert not StaffInvitation.objects.exists()


def test_staff_list_their_team_with_a_session(api, amina, juma):
    api.force_authenticate(juma)

    response = api.get(reverse("api-staff-team"))

    assert response.status_code == 200
    assert {m["email"] for m in response.json()["results"]} == {amina.email, juma.email}


def test_admin_invites_through_the_api_and_agent_cannot(api, amina, juma):
    api.force_authenticate(juma)
    refused = api.post(
        reverse("api-staff-invitations"),
        {"email": "new@kijani.example", "role": Role.ORIGINATOR_AGENT},
        format="json",
    )
    api.force_authenticate(amina)
    created = api.post(
        reverse("api-staff-invitations"),
        {"email": "new@kijani.example", "role": Role.ORIGINATOR_AGENT},
        format="json",
    )

    assert refused.status_code == 403
    assert created.status_code == 201
    assert created.json()["invited_by"] == amina.email


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "not-an-address", "role": "originator_agent"},
        {"email": "a@b.org", "role": "borrower"},
    ],
)
def test_bad_invitation_input_is_a_400_naming_the_field(api, amina, body):
    api.force_authenticate(amina)

    response = api.post(reverse("api-staff-invitations"), body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["fields"]


def test_malformed_json_is_a_400_not_a_500(api, amina):
    api.force_authenticate(amina)

    response = api.post(
        reverse("api-staff-invitations"), data="{not json", content_type="application/json"
    )

    assert response.status_code == 400


def test_revoking_a_token_signs_the_client_out(api, ines):
    token = _token_for(api, ines)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert api.delete(reverse("api-token")).status_code == 204
    assert api.get(reverse("api-me")).status_code == 401


def test_team_query_count_does_not_grow_with_the_team(api, amina, django_assert_max_num_queries):
    from tests.factories import StaffFactory

    StaffFactory.create_batch(30, organization=amina.organization)
    api.force_authenticate(amina)

    with django_assert_max_num_queries(3):
        response = api.get(reverse("api-staff-team"))

    assert response.json()["count"] == 31


def test_the_openapi_schema_and_docs_are_served_without_login(client, db):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/staff/invitations/" in schema.content
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_unknown_api_path_is_a_json_404(client, db):
    response = client.get("/api/no-such-thing/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "404"
