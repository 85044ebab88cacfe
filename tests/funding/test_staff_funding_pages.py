"""Kijani's funding pages: Juma (agent) confirms the funds Ines sends for the dairy goat project
and Amina (admin) those of Pablo, until confirmed funds reach the target and the project closes
funded; when Amina closes a project unfunded, the money Ines sent is due back and Juma records
the refund. The same reference again changes nothing; bad input is a form error that changes
nothing; other organizations' staff get 404, investors and borrowers 403; the pages cost the
same number of queries whatever the number of rows."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from apps.funding import selectors, services
from apps.funding.models import Commitment, CommitmentStatus
from apps.identity.models import Role
from apps.ledger.models import Book, OutboxEntry
from apps.projects.models import ProjectStatus
from apps.projects.services import project_close, project_create, project_publish
from tests.factories import OrganizationFactory, StaffFactory, UserFactory
from tests.projects.conftest import goat_terms
from tests.queries import page_queries

D = Decimal
OVERVIEW = reverse("funding_staff:overview")
PENDING = reverse("funding_staff:pending")
REFUNDS = reverse("funding_staff:refunds")
HOME = reverse("staff:home")


def _project(project) -> str:
    return reverse("funding_staff:project", args=[project.pk])


def _confirm(commitment) -> str:
    return reverse("funding_staff:confirm", args=[commitment.public_id])


def _refund(commitment) -> str:
    return reverse("funding_staff:refund", args=[commitment.public_id])


def _said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _book() -> list[tuple[str, str]]:
    entries = OutboxEntry.objects.filter(book=Book.FUNDING).order_by("id")
    return [
        (value["event"], value["amount"])
        for value in (json.loads(bytes(e.data))["value"] for e in entries)
    ]


def _snapshot(commitment) -> tuple:
    """What a refused request must leave as it was."""
    commitment.refresh_from_db()
    return (
        commitment.status,
        commitment.payment_reference,
        commitment.confirmed_at,
        commitment.refund_reference,
        commitment.closed_at,
        len(_book()),
    )


# --- funds to confirm ------------------------------------------------------------------------


def test_juma_confirms_the_funds_ines_sent_and_the_same_reference_again_changes_nothing(
    client, goats, ines, juma, commit
):
    commitment = commit(ines, goats, "300000")
    client.force_login(juma)

    waiting = client.get(PENDING)
    page = waiting.content.decode()
    assert [row["commitment"] for row in waiting.context["rows"]] == [commitment]
    assert "Ines Duarte" in page and "ines@example.org" in page and "300,000.00 KES" in page
    assert commitment.pseudonym[:12] in page and f'action="{_confirm(commitment)}"' in page
    assert f'id="id_confirm_{commitment.pk}_reference"' in page

    confirmed = client.post(_confirm(commitment), {"reference": "BANK-7731"})
    assert confirmed.status_code == 302 and confirmed["Location"] == PENDING
    assert _said(confirmed) == ["Funds of 300,000.00 KES from Ines Duarte confirmed (BANK-7731)."]
    commitment.refresh_from_db()
    assert commitment.status == CommitmentStatus.CONFIRMED
    assert (commitment.payment_reference, commitment.confirmed_by) == ("BANK-7731", juma)
    assert client.get(PENDING).context["page"].paginator.count == 0
    before = _snapshot(commitment)

    again = client.post(_confirm(commitment), {"reference": "BANK-7731"})
    assert again.status_code == 302
    assert _said(again) == [
        "The funds of 300,000.00 KES from Ines Duarte were confirmed already (BANK-7731): "
        "nothing changed."
    ]
    assert _snapshot(commitment) == before
    # Another reference for the same funds is refused; the page has no form for it any more,
    # so the reason comes as a message.
    other = client.post(_confirm(commitment), {"reference": "BANK-9999"})
    assert other.status_code == 200
    assert "These funds were confirmed with another reference." in other.content.decode()
    assert _snapshot(commitment) == before
    assert _book() == [("committed", "300000.00"), ("confirmed", "300000.00")]

    overview = client.get(OVERVIEW)
    [row] = overview.context["page"].object_list
    assert (row.committed, row.confirmed, row.investors) == (D("300000"), D("300000"), 1)
    page = overview.content.decode()
    bar = re.search(r'<progress class="funding" max="([\d.]+)" value="([\d.]+)"', page)
    assert (D(bar[1]), D(bar[2])) == (D("500000"), D("300000"))
    assert '<span data-figure="confirmed-percent">60%</span>' in page
    assert f'<a href="{OVERVIEW}" aria-current="page">Funding</a>' in page


def test_confirmed_funds_reaching_the_target_close_the_project_funded_on_its_page(
    client, goats, ines, pablo, juma, amina, commit
):
    first, second = commit(ines, goats, "300000"), commit(pablo, goats, "200000")
    url = _project(goats)

    # Juma (agent) confirms Ines's funds from the project's page, Amina (admin) Pablo's.
    client.force_login(juma)
    page = client.get(url).content.decode()
    assert "Ines Duarte" in page and "pablo@example.org" in page
    assert page.count('<input type="hidden" name="return_to" value="project">') == 2
    done = client.post(_confirm(first), {"reference": "BANK-1", "return_to": "project"})
    assert done.status_code == 302 and done["Location"] == url
    goats.refresh_from_db()
    assert goats.status == ProjectStatus.PUBLISHED

    client.force_login(amina)
    done = client.post(_confirm(second), {"reference": "MPESA-QX2", "return_to": "project"})
    assert done["Location"] == url
    assert _said(done)[-2:] == [
        "Funds of 200,000.00 KES from Pablo Ruiz confirmed (MPESA-QX2).",
        "Dairy goats for Nakuru smallholders is funded: confirmed funds reached its target "
        "and it closed.",
    ]
    goats.refresh_from_db()
    assert (goats.status, goats.close_reason) == (ProjectStatus.CLOSED, "target")

    shown = client.get(url)
    page = shown.content.decode()
    assert "Funded: the target was reached" in page
    assert (
        'data-figure="confirmed">500,000.00 KES</span> (<span data-figure="confirmed_percent">100'
        in page
    )
    assert '<dd data-figure="investors">2</dd>' in page
    assert "confirm" not in {row["action"] for row in shown.context["rows"]}
    events = [(e.what, e.commitment) for e in shown.context["timeline"]]
    assert events == [
        ("committed", first),
        ("committed", second),
        ("confirmed", first),
        ("confirmed", second),
        ("project_closed", None),
    ]
    assert "funds of 300,000.00 KES received (BANK-1), confirmed by Juma Otieno." in page
    assert "The project closed: funded, the target was reached." in page
    [row] = client.get(OVERVIEW).context["page"].object_list
    assert row.status == ProjectStatus.CLOSED and row.confirmed == D("500000")


# --- refunds due -----------------------------------------------------------------------------


def test_a_refund_due_after_an_admin_closes_a_project_unfunded_is_recorded(
    client, goats, ines, pablo, juma, amina, commit
):
    paid, promised = commit(ines, goats, "100000"), commit(pablo, goats, "50000")
    services.commitment_confirm(actor=juma, commitment=paid, reference="BANK-9")
    project_close(actor=amina, project=goats, reason="the season is over")
    # The project closed ten days ago; the money goes back today.
    ten_days_ago = timezone.now() - timedelta(days=10)
    Commitment.objects.filter(pk=paid.pk).update(closed_at=ten_days_ago)
    client.force_login(juma)

    due = client.get(REFUNDS)
    assert [row["commitment"] for row in due.context["rows"]] == [paid]
    page = due.content.decode()
    assert "Ines Duarte" in page and "100,000.00 KES" in page and "BANK-9" in page
    assert f'action="{_refund(paid)}"' in page
    assert client.get(HOME).context["funding"] == {"to_confirm": 0, "refunds_due": 1}

    refunded = client.post(_refund(paid), {"reference": "BANK-BACK-9"})
    assert refunded.status_code == 302 and refunded["Location"] == REFUNDS
    assert _said(refunded) == ["Refund of 100,000.00 KES to Ines Duarte recorded (BANK-BACK-9)."]
    paid.refresh_from_db()
    promised.refresh_from_db()
    assert (paid.status, paid.refund_reference) == (CommitmentStatus.REFUNDED, "BANK-BACK-9")
    assert promised.status == CommitmentStatus.CANCELLED
    # The refund is dated the day the money went back, for the statement and the return.
    assert timezone.localdate(paid.closed_at) == timezone.localdate()
    today = timezone.localdate()
    statement = selectors.investor_statement(
        investor=ines, currency="KES", start=today - timedelta(days=30), end=today
    )
    assert [(line.what, line.on) for line in statement.lines][-1] == ("refund", today)
    assert statement.closing == 0
    before = _snapshot(paid)

    again = client.post(_refund(paid), {"reference": "BANK-BACK-9"})
    assert again.status_code == 302 and "recorded already" in _said(again)[-1]
    assert _snapshot(paid) == before
    assert client.get(REFUNDS).context["page"].paginator.count == 0
    assert _book()[-2:] == [("cancelled", "50000.00"), ("refunded", "100000.00")]

    timeline = [e.what for e in client.get(_project(goats)).context["timeline"]]
    assert timeline == ["committed", "committed", "confirmed", "project_closed", "cancelled",
                        "refunded"]  # fmt: skip
    [row] = client.get(OVERVIEW).context["page"].object_list
    assert (row.committed, row.confirmed, row.refunds_due) == (0, 0, 0)


def test_a_commitment_from_an_investors_own_node_shows_its_did_and_pseudonym(client, goats, juma):
    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    remote = Commitment.objects.create(
        project=goats, investor=None, investor_did=did,
        pseudonym=services.investor_pseudonym(project_id=goats.pk, investor_did=did),
        request_id="remote-0001", currency="KES", amount=D("5000"),
        status=CommitmentStatus.PENDING,
    )  # fmt: skip
    client.force_login(juma)
    for url in (PENDING, _project(goats)):
        page = client.get(url).content.decode()
        assert "An investor's own node" in page and remote.pseudonym[:12] in page
    client.post(_confirm(remote), {"reference": "SWIFT-1"})
    remote.refresh_from_db()
    assert remote.status == CommitmentStatus.CONFIRMED


# --- who may see and do what -----------------------------------------------------------------


def test_staff_of_another_organization_get_404(client, goats, ines, pablo, juma, amina, commit):
    due = commit(pablo, goats, "20000")
    services.commitment_confirm(actor=juma, commitment=due, reference="B2")
    project_close(actor=amina, project=goats)
    second = project_create(actor=juma, terms=goat_terms(name="Second goats"))
    pending = commit(ines, project_publish(actor=amina, project=second), "10000")
    umoja_admin = StaffFactory(
        role=Role.ORIGINATOR_ADMIN, organization=OrganizationFactory(name="Umoja Credit")
    )
    client.force_login(umoja_admin)
    before = (_snapshot(pending), _snapshot(due))

    assert client.get(_project(goats)).status_code == 404
    assert client.post(_confirm(pending), {"reference": "X1"}).status_code == 404
    assert client.post(_refund(due), {"reference": "X2"}).status_code == 404
    for url in (OVERVIEW, PENDING, REFUNDS):
        assert client.get(url).context["page"].paginator.count == 0
    assert client.get(HOME).context["funding"] == {"to_confirm": 0, "refunds_due": 0}
    assert (_snapshot(pending), _snapshot(due)) == before


def test_a_draft_has_no_funding_page(client, juma):
    goat_draft = project_create(actor=juma, terms=goat_terms())
    client.force_login(juma)
    assert client.get(_project(goat_draft)).status_code == 404
    assert client.get(OVERVIEW).context["page"].paginator.count == 0


@pytest.mark.parametrize("persona", ["ines", "wanjiru"])
def test_investors_and_borrowers_get_403(client, goats, ines, persona, request, commit):
    commitment = commit(ines, goats, "10000")
    client.force_login(request.getfixturevalue(persona))
    before = _snapshot(commitment)

    for url in (OVERVIEW, PENDING, REFUNDS, _project(goats)):
        assert client.get(url).status_code == 403, url
    for url in (_confirm(commitment), _refund(commitment)):
        assert client.post(url, {"reference": "X"}).status_code == 403
    assert _snapshot(commitment) == before


def test_signed_out_people_are_sent_to_sign_in(client, goats):
    for url in (OVERVIEW, PENDING, REFUNDS, _project(goats)):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- bad input changes nothing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "reference, message",
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("R" * 121, "at most 120 characters"),
    ],
)
@pytest.mark.parametrize("return_to", ["", "project"])
def test_a_bad_reference_is_a_form_error_and_changes_nothing(
    client, goats, ines, juma, commit, reference, message, return_to
):
    commitment = commit(ines, goats, "10000")
    client.force_login(juma)
    before = _snapshot(commitment)

    response = client.post(_confirm(commitment), {"reference": reference, "return_to": return_to})

    assert response.status_code == 200
    expected = "funding/staff/project.html" if return_to else "funding/staff/pending.html"
    assert expected in [t.name for t in response.templates]
    [row] = response.context["rows"]
    assert message in " ".join(row["form"].errors["reference"])
    assert row["form"]["reference"].value() == reference
    assert 'class="field has-error"' in response.content.decode()
    assert _snapshot(commitment) == before


def test_a_refund_of_funds_never_due_is_refused_and_changes_nothing(
    client, goats, ines, juma, commit
):
    commitment = commit(ines, goats, "10000")
    client.force_login(juma)
    before = _snapshot(commitment)

    response = client.post(_refund(commitment), {"reference": "BACK-1"})

    assert response.status_code == 200
    assert "cannot become refunded" in response.content.decode()
    assert _snapshot(commitment) == before
    assert client.get(_confirm(commitment)).status_code == 405


# --- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_counts_funds_to_confirm_and_refunds_due(client, goats, ines, amina, commit):
    commit(ines, goats, "10000")
    commit(ines, goats, "20000")
    client.force_login(amina)
    page = client.get(HOME).content.decode()
    assert '<span class="stat-value" data-funding="to_confirm">2</span>' in page
    assert '<span class="stat-value" data-funding="refunds_due">0</span>' in page
    assert f'href="{PENDING}"' in page and f'href="{OVERVIEW}"' in page


# --- queries ---------------------------------------------------------------------------------


def test_the_pages_cost_the_same_queries_for_3_and_30_rows(client, goats, juma, amina, commit):
    investors = [UserFactory(role=Role.INVESTOR) for _ in range(3)]

    def add(count):
        for number in range(count):
            commit(investors[number % 3], goats, "1000")

    def confirm_some():
        for commitment in Commitment.objects.filter(status=CommitmentStatus.PENDING)[:2]:
            services.commitment_confirm(actor=juma, commitment=commitment, reference="B")

    client.force_login(juma)
    add(3)
    confirm_some()
    few = {url: page_queries(client, url) for url in (PENDING, _project(goats), OVERVIEW)}
    add(27)
    confirm_some()
    assert Commitment.objects.count() == 30
    assert {url: page_queries(client, url) for url in few} == few

    # Refunds due, and the overview of several projects.
    more = [
        project_publish(actor=amina, project=project_create(
            actor=juma, terms=goat_terms(name=f"Goats {n}")))
        for n in range(3)
    ]  # fmt: skip
    project_close(actor=amina, project=goats)
    refunds = page_queries(client, REFUNDS)
    overview = page_queries(client, OVERVIEW)
    for project in more:
        commitment = commit(investors[0], project, "1000")
        services.commitment_confirm(actor=juma, commitment=commitment, reference="B")
        project_close(actor=amina, project=project)
    assert client.get(REFUNDS).context["page"].paginator.count == 7
    assert client.get(OVERVIEW).context["page"].paginator.count == 4
    assert page_queries(client, OVERVIEW) == overview
    assert page_queries(client, REFUNDS) == refunds
