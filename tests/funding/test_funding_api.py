"""The funding API as its people use it: Ines commits to Kijani's plain goat project (a retry of
the same request is the same commitment), Juma confirms her funds, Wanjiru's loan repays, and
Ines follows her position, its return and her statement; anyone reads how far the funding went,
without a name. Refusals say why: below the ticket, above the cap, a closed project, not an
investor. Another investor's or organization's commitment is not found; bad input is a 400
naming the field, never a 500; every answer has the shape the OpenAPI schema documents."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from apps.applications import services as loans
from apps.funding import services
from apps.funding.models import Commitment, CommitmentStatus
from apps.identity.models import Wallet
from apps.projects.services import project_close, project_create, project_publish
from tests.factories import OrganizationFactory, StaffFactory
from tests.openapi import schema_errors
from tests.projects.conftest import goat_terms

D = Decimal
COMMITMENTS = reverse("api-commitments")
PORTFOLIO = reverse("api-portfolio")
STATEMENTS = reverse("api-statements")


@pytest.fixture
def as_():
    def client_for(person=None):
        client = APIClient()
        if person is not None:
            client.force_authenticate(person)
        return client

    return client_for


def _schema_ok(answers) -> None:
    """ANSWERS: (path template, method, response); each must match the served schema."""
    anyone = APIClient()
    for path, method, answer in answers:
        assert schema_errors(anyone, path, answer, method) == [], (path, method, answer.json())


def _fields(answer) -> dict:
    assert answer.status_code == 400, (answer.status_code, answer.content)
    return answer.json()["error"]["fields"]


def _commit(client, project, amount, request_id="ines-0001"):
    body = {"project": str(project.pk), "amount": amount, "request_id": request_id}
    return client.post(COMMITMENTS, body, format="json")


def _url(name: str, commitment_id) -> str:
    return reverse(name, args=[commitment_id])


# --- the whole story -------------------------------------------------------------------------


def test_ines_funds_a_project_through_the_api_and_follows_her_returns(
    as_, active_loan, simple_goats, ines, pablo, juma
):
    investor, agent, anyone = as_(ines), as_(juma), as_()
    answers = []

    made = _commit(investor, simple_goats, "1000.00", request_id="ines-goats-0001")
    assert made.status_code == 201, made.content
    mine = made.json()
    assert (mine["amount"], mine["currency"], mine["status"]) == ("1000.00", "KES", "pending")
    assert mine["project"]["id"] == str(simple_goats.pk)
    assert mine["project"]["organization"] == "Kijani Microfinance"
    # A retry of the same request (the answer was lost) is the same commitment.
    replay = _commit(investor, simple_goats, "1000.00", request_id="ines-goats-0001")
    assert replay.status_code == 200 and replay.json()["id"] == mine["id"]
    assert Commitment.objects.count() == 1
    answers += [("/api/commitments/", "post", made), ("/api/commitments/", "post", replay)]

    listed = investor.get(COMMITMENTS)
    assert [c["id"] for c in listed.json()["results"]] == [mine["id"]]
    one = investor.get(_url("api-commitment", mine["id"]))
    assert one.json() == mine
    answers += [("/api/commitments/", "get", listed), ("/api/commitments/{id}/", "get", one)]

    pablos = services.commitment_create(
        investor=pablo, project=simple_goats, amount="2000", request_id="pablo-goats-1"
    )
    staff_list = agent.get(reverse("api-staff-project-commitments", args=[simple_goats.pk]))
    assert [(c["investor"]["full_name"], c["amount"]) for c in staff_list.json()["results"]] == [
        ("Ines Duarte", "1000.00"),
        ("Pablo Ruiz", "2000.00"),
    ]
    answers.append(("/api/staff/projects/{id}/commitments/", "get", staff_list))

    confirm = _url("api-staff-commitment-confirm", mine["id"])
    confirmed = agent.post(confirm, {"reference": "BANK-4410"}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["payment_reference"] == "BANK-4410"
    assert confirmed.json()["confirmed_by"] == "Juma Otieno"
    again = agent.post(confirm, {"reference": "BANK-4410"}, format="json")
    assert again.status_code == 200 and again.json() == confirmed.json()
    assert "reference" in _fields(agent.post(confirm, {"reference": "BANK-1"}, format="json"))
    services.commitment_confirm(actor=juma, commitment=pablos, reference="BANK-4411")
    answers += [("/api/staff/commitments/{id}/confirm/", "post", confirmed)]

    funding = anyone.get(reverse("api-project-funding", args=[simple_goats.pk]))
    assert funding.status_code == 200
    assert funding.json() == {
        "project": str(simple_goats.pk),
        "status": "published",
        "currency": "KES",
        "target": "500000.00",
        "committed": "3000.00",
        "confirmed": "3000.00",
        "left": "497000.00",
        "investors": 2,
    }
    text = json.dumps(funding.json())
    did = Wallet.objects.get(user=ines).did
    for private in (ines.email, ines.full_name, did, mine["pseudonym"]):
        assert private not in text
    answers.append(("/api/projects/{id}/funding/", "get", funding))

    # Her funds arrived a month ago; Wanjiru's loan, which they fund, repays today.
    month_ago = timezone.now() - timedelta(days=30)
    Commitment.objects.filter(project=simple_goats).update(confirmed_at=month_ago)
    loan = active_loan(amount="12000", duration=12)
    today = timezone.localdate()
    payment = loans.repayment_record(
        actor=juma, loan=loan, amount="3000", reference="R1", rail="cash", paid_on=today
    )

    portfolio = investor.get(PORTFOLIO)
    assert portfolio.status_code == 200
    [position] = portfolio.json()["positions"]
    assert position["commitment"] == mine["id"] and position["status"] == "confirmed"
    returned, received = D(position["principal_returned"]), D(position["interest_received"])
    assert abs(returned - payment.principal / 3) < D("0.01")
    assert abs(received - payment.interest / 3) < D("0.01")
    assert D(position["outstanding"]) == D("1000.00") - returned
    assert position["losses"] == "0.00"
    assert D(position["xirr"]) > 0  # interest within a month: a positive annual return
    [kes] = portfolio.json()["totals"]
    assert (kes["currency"], kes["invested"]) == ("KES", "1000.00")
    assert kes["outstanding"] == position["outstanding"] and kes["xirr"] == position["xirr"]
    answers.append(("/api/portfolio/", "get", portfolio))

    period = {
        "currency": "KES",
        "start": (today - timedelta(days=60)).isoformat(),
        "end": today.isoformat(),
    }
    statement = investor.get(STATEMENTS, period)
    assert statement.status_code == 200, statement.content
    body = statement.json()
    assert body["opening"] == "0.00"
    assert [line["what"] for line in body["lines"]] == ["invested", "interest", "principal"]
    assert body["lines"][0] == {
        "on": timezone.localdate(month_ago).isoformat(),
        "project": simple_goats.name,
        "what": "invested",
        "amount": "1000.00",
        "cash": "-1000.00",
    }
    totals = {t["what"]: (t["amount"], t["cash"]) for t in body["totals"]}
    assert totals["invested"] == ("1000.00", "-1000.00")
    assert totals["principal"] == (f"-{returned:.2f}", f"{returned:.2f}")
    assert totals["interest"] == ("0.00", f"{received:.2f}")
    assert totals["loss"] == totals["refund"] == ("0.00", "0.00")
    # The closing balance is the opening plus every line, and what the position still holds.
    assert D(body["closing"]) == sum((D(line["amount"]) for line in body["lines"]), D(0))
    assert body["closing"] == position["outstanding"]
    answers.append(("/api/statements/", "get", statement))
    _schema_ok(answers)


def test_ines_cancels_a_commitment_before_sending_the_funds(as_, goats, ines, juma):
    made = _commit(as_(ines), goats, "5000")
    cancel = _url("api-commitment-cancel", made.json()["id"])

    cancelled = as_(ines).post(cancel)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["closed_at"]
    assert _fields(as_(ines).post(cancel))  # cancelled already
    confirm = _url("api-staff-commitment-confirm", made.json()["id"])
    refused = as_(juma).post(confirm, {"reference": "BANK-1"}, format="json")
    assert "cannot become funds received" in json.dumps(_fields(refused))
    _schema_ok(
        [
            ("/api/commitments/{id}/cancel/", "post", cancelled),
            ("/api/staff/commitments/{id}/confirm/", "post", refused),
        ]
    )


def test_the_last_funds_close_the_project_funded_and_an_unfunded_one_refunds(
    as_, goats, ines, pablo, juma, amina, commit
):
    first, last = commit(ines, goats, "300000"), commit(pablo, goats, "200000")
    services.commitment_confirm(actor=juma, commitment=first, reference="B1")
    closing = as_(amina).post(
        _url("api-staff-commitment-confirm", last.public_id), {"reference": "B2"}, format="json"
    )
    assert closing.status_code == 200
    assert closing.json()["project"]["status"] == "closed"
    funding = as_().get(reverse("api-project-funding", args=[goats.pk])).json()
    assert (funding["status"], funding["confirmed"], funding["left"]) == (
        "closed",
        "500000.00",
        "0.00",
    )
    assert "project" in _fields(_commit(as_(ines), goats, "5000", request_id="ines-late-1"))

    unfunded = project_publish(
        actor=amina, project=project_create(actor=juma, terms=goat_terms(name="Bee hives"))
    )
    paid = commit(ines, unfunded, "10000")
    services.commitment_confirm(actor=juma, commitment=paid, reference="B3")
    project_close(actor=amina, project=unfunded, reason="too few investors")
    refund = _url("api-staff-commitment-refund", paid.public_id)
    refunded = as_(juma).post(refund, {"reference": "BACK-3"}, format="json")
    assert refunded.status_code == 200, refunded.content
    assert (refunded.json()["status"], refunded.json()["refund_reference"]) == (
        "refunded",
        "BACK-3",
    )
    assert as_(juma).post(refund, {"reference": "BACK-3"}, format="json").json() == (
        refunded.json()
    )
    assert "reference" in _fields(as_(juma).post(refund, {"reference": "OTHER"}, format="json"))
    portfolio = as_(ines).get(PORTFOLIO)
    positions = {p["commitment"]: p for p in portfolio.json()["positions"]}
    refunded_position = positions[str(paid.public_id)]
    assert (refunded_position["status"], refunded_position["outstanding"]) == ("refunded", "0.00")
    # Funded today and nothing paid back yet: no return to speak of.
    assert positions[str(first.public_id)]["xirr"] is None
    _schema_ok(
        [
            ("/api/staff/commitments/{id}/confirm/", "post", closing),
            ("/api/staff/commitments/{id}/refund/", "post", refunded),
            ("/api/portfolio/", "get", portfolio),
        ]
    )


# --- refusals with reasons -------------------------------------------------------------------


def test_commitments_are_refused_with_a_reason(as_, goats, ines, wanjiru, juma, amina):
    investor = as_(ines)

    below = _commit(investor, goats, "999.99")
    assert _fields(below) == {"amount": ["The minimum ticket is 1000.00 KES."]}
    assert below.json()["error"]["code"] == "invalid"

    capped = project_publish(
        actor=amina,
        project=project_create(
            actor=juma, terms=goat_terms(name="Capped goats", max_ticket=D("50000.00"))
        ),
    )
    assert _commit(investor, capped, "30000", request_id="ines-cap-01").status_code == 201
    above = _commit(investor, capped, "20000.01", request_id="ines-cap-02")
    assert _fields(above) == {"amount": ["One investor puts in at most 50000.00 KES here."]}
    beyond = _commit(investor, goats, "500000.01", request_id="ines-all-01")
    assert _fields(beyond) == {"amount": ["Only 500000.00 KES of the target is left."]}

    project_close(actor=amina, project=goats, reason="enough for this season")
    closed = _commit(investor, goats, "5000", request_id="ines-closed-1")
    assert _fields(closed) == {"project": ["This project is not taking commitments."]}

    for person in (wanjiru, juma):
        refused = _commit(as_(person), capped, "5000", request_id="not-investor-1")
        assert refused.status_code == 403
        assert refused.json()["error"]["message"] == (
            "Your account's role does not allow this request."
        )
    assert _commit(as_(), capped, "5000").status_code == 401
    assert Commitment.objects.count() == 1
    _schema_ok(
        [
            ("/api/commitments/", "post", below),
            ("/api/commitments/", "post", above),
            ("/api/commitments/", "post", closed),
            ("/api/commitments/", "post", refused),
        ]
    )


# --- who sees what ---------------------------------------------------------------------------


def test_another_investors_or_organizations_commitment_is_not_found(
    as_, goats, ines, pablo, juma, commit
):
    mine = commit(ines, goats, "5000")
    stranger = StaffFactory(
        role="originator_admin", organization=OrganizationFactory(name="Other MFI", slug="other")
    )
    for path in (_url("api-commitment", mine.public_id),):
        assert as_(pablo).get(path).status_code == 404
    cancel = as_(pablo).post(_url("api-commitment-cancel", mine.public_id))
    assert cancel.status_code == 404
    assert as_(pablo).get(COMMITMENTS).json()["results"] == []

    listed = as_(stranger).get(reverse("api-staff-project-commitments", args=[goats.pk]))
    assert listed.status_code == 404
    for name in ("api-staff-commitment-confirm", "api-staff-commitment-refund"):
        answer = as_(stranger).post(_url(name, mine.public_id), {"reference": "X"}, format="json")
        assert answer.status_code == 404
    # Investors do not reach the staff API, nor staff an investor's.
    assert as_(ines).get(reverse("api-staff-project-commitments", args=[goats.pk])).status_code == (
        403
    )
    assert as_(juma).get(PORTFOLIO).status_code == 403
    assert as_(juma).get(_url("api-commitment", mine.public_id)).status_code == 403
    mine.refresh_from_db()
    assert mine.status == CommitmentStatus.PENDING
    _schema_ok([("/api/commitments/{id}/cancel/", "post", cancel)])


def test_a_draft_has_no_public_funding(as_, juma, ines):
    draft = project_create(actor=juma, terms=goat_terms())
    assert as_(ines).get(reverse("api-project-funding", args=[draft.pk])).status_code == 404
    assert as_().get(reverse("api-project-funding", args=[draft.pk])).status_code == 404
    assert "project" in _fields(_commit(as_(ines), draft, "5000"))


# --- bad input -------------------------------------------------------------------------------


def test_bad_commitments_name_the_field_and_store_nothing(as_, goats, juma, ines):
    client = as_(ines)
    base = {"project": str(goats.pk), "amount": "5000", "request_id": "ines-bad-0001"}

    def refused(**changes):
        return _fields(client.post(COMMITMENTS, {**base, **changes}, format="json"))

    assert refused(amount=5000)["amount"] == [
        'Write the amount as a decimal string, such as "1500.00", not as a JSON number.'
    ]
    for amount in (5000.5, "1e3", "NaN", "-5", "0", "12.345", "", None, ["5000"], "9" * 40):
        assert "amount" in refused(amount=amount), amount
    for request_id in (12345678, "short", "has spaces in it", "x" * 65, None, "ünïcödé-id"):
        assert "request_id" in refused(request_id=request_id), request_id
    for project in ("not-a-uuid", "00000000-0000-0000-0000-000000000000", 7, None):
        assert "project" in refused(project=project), project
    assert set(_fields(client.post(COMMITMENTS, {}, format="json"))) == {
        "project",
        "amount",
        "request_id",
    }
    assert "non_field_errors" in _fields(client.post(COMMITMENTS, [1, 2], format="json"))
    broken = client.post(COMMITMENTS, "{", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "parse_error"
    assert not Commitment.objects.exists()

    client.post(COMMITMENTS, base, format="json")
    other = refused(amount="6000")
    assert other == {"request_id": ["This request committed another amount."]}
    assert Commitment.objects.count() == 1

    [made] = Commitment.objects.all()
    confirm = _url("api-staff-commitment-confirm", made.public_id)
    for reference in ("", "   ", "x" * 121, 12345, None, {"a": 1}):
        assert "reference" in _fields(as_(juma).post(confirm, {"reference": reference}, "json"))
    assert "reference" in _fields(as_(juma).post(confirm, {}, format="json"))
    made.refresh_from_db()
    assert made.status == CommitmentStatus.PENDING


def test_bad_statement_periods_name_the_field(as_, ines):
    client = as_(ines)
    good = {"currency": "KES", "start": "2026-01-01", "end": "2026-03-31"}

    def refused(**changes):
        return _fields(client.get(STATEMENTS, {**good, **changes}))

    assert refused(start="2026-04-01") == {"end": ["The end comes before the start."]}
    for currency in ("", "kes", "XXX", "KESS", "12"):
        assert "currency" in refused(currency=currency), currency
    assert "start" in refused(start="yesterday")
    assert "end" in refused(end="2026-02-30")
    assert set(_fields(client.get(STATEMENTS))) == {"currency", "start", "end"}

    empty = client.get(STATEMENTS, good)
    assert empty.status_code == 200
    assert (empty.json()["opening"], empty.json()["lines"], empty.json()["closing"]) == (
        "0.00",
        [],
        "0.00",
    )
    ugx = client.get(STATEMENTS, {**good, "currency": "UGX"})
    assert ugx.json()["closing"] == "0"
    _schema_ok([("/api/statements/", "get", empty), ("/api/statements/", "get", ugx)])
