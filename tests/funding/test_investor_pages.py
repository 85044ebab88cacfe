"""The investor's side of Kijani's node, as stories: Ines commits to the dairy goat project from
its page (a double submit is one commitment; amounts below the ticket, above the cap or above
what is left, and closed projects are refused on the form); borrowers and staff have no commit
form and a forged post stores nothing; Pablo cannot open Ines's commitment; once a funded loan
is repaid, her portfolio, expected and actual cash and statements (page, CSV and PDF) show the
same figures to the cent; and every open page of the project hears its funding move, live."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from apps.applications import services as loans
from apps.funding import consumers, progress, selectors, services
from apps.funding.models import Commitment, CommitmentStatus, Distribution
from apps.projects.models import Project
from apps.projects.services import project_close, project_create, project_publish
from growr_site.asgi import application
from tests.projects.conftest import goat_terms
from tests.queries import page_queries

D = Decimal
HOME = reverse("invest:home")
PORTFOLIO = reverse("invest:portfolio")
STATEMENTS = reverse("invest:statements")
STATEMENT_CSV = reverse("invest:statement-csv")
STATEMENT_PDF = reverse("invest:statement-pdf")


def _page(project) -> str:
    return reverse("project-page", args=[project.pk])


def _commit_url(project) -> str:
    return reverse("project-commit", args=[project.pk])


def _commitment_url(commitment) -> str:
    return reverse("invest:commitment", args=[commitment.pk])


def _request_id(html: str) -> str:
    return re.search(r'name="request_id" value="([^"]+)"', html).group(1)


def _commit_from_page(client, project, amount: str):
    """Open the project's page and send its commit form with AMOUNT."""
    page = client.get(_page(project)).content.decode()
    return client.post(_commit_url(project), {"amount": amount, "request_id": _request_id(page)})


# --- committing from the project's page ---------------------------------------------------------


def test_ines_commits_from_the_project_page_and_sees_the_bar_move(client, ines, goats):
    client.force_login(ines)
    page = client.get(_page(goats)).content.decode()
    assert 'data-figure="target">500,000.00 KES' in page
    assert 'data-figure="committed">0.00 KES' in page
    assert "At least 1,000.00 KES; no cap per investor" in page
    assert f'data-socket="/ws/projects/{goats.pk}/funding/"' in page

    response = client.post(_commit_url(goats), {"amount": "25000", "request_id": _request_id(page)})

    assert response.status_code == 302
    assert response["Location"] == _page(goats) + "#funding"
    commitment = Commitment.objects.get()
    assert (commitment.investor, commitment.amount) == (ines, D("25000"))
    assert commitment.status == CommitmentStatus.PENDING
    page = client.get(response["Location"]).content.decode()
    assert "You committed 25,000.00 KES to Dairy goats for Nakuru smallholders." in page
    assert 'data-figure="committed">25,000.00 KES' in page
    assert 'data-figure="committed_percent">5.0<' in page
    assert 'width="5.0" height="8" data-bar="committed"' in page
    assert 'data-figure="left">475,000.00 KES' in page
    assert f'href="{_commitment_url(commitment)}"' in page


def test_a_double_submit_of_one_page_is_one_commitment(client, ines, goats):
    client.force_login(ines)
    page = client.get(_page(goats)).content.decode()
    form = {"amount": "5000", "request_id": _request_id(page)}

    first = client.post(_commit_url(goats), form)
    again = client.post(_commit_url(goats), form)

    assert first.status_code == again.status_code == 302
    assert Commitment.objects.count() == 1
    # Each page is a new request: a second commitment from a fresh page is another one.
    assert _commit_from_page(client, goats, "5000").status_code == 302
    assert Commitment.objects.count() == 2


@pytest.fixture
def capped_goats(juma, amina):
    """A goat project taking at most 10,000 KES from one investor."""
    terms = goat_terms(name="Goats with a cap", max_ticket=D("10000"))
    return project_publish(actor=amina, project=project_create(actor=juma, terms=terms))


@pytest.mark.parametrize(
    ("setup", "amount", "reason"),
    [
        ("none", "999.99", "The minimum ticket is 1000.00 KES."),
        ("none", "lots", "Enter a number."),
        ("none", "12.345", "KES amounts have at most 2 decimals."),
        ("cap", "10000.01", "One investor puts in at most 10000.00 KES here."),
        ("nearly-full", "5000", "Only 2000.00 KES of the target is left."),
        ("closed", "5000", "This project is not taking commitments."),
    ],
)
def test_refused_commitments_are_form_errors_and_store_nothing(
    client, ines, pablo, amina, goats, capped_goats, commit, setup, amount, reason
):
    project = capped_goats if setup == "cap" else goats
    client.force_login(ines)
    page = client.get(_page(project)).content.decode()
    if setup == "nearly-full":
        commit(pablo, goats, "498000")
    elif setup == "closed":
        project_close(actor=amina, project=goats, reason="enough for this season")
    before = Commitment.objects.count()

    form = {"amount": amount, "request_id": _request_id(page)}
    response = client.post(_commit_url(project), form)

    assert response.status_code == 200
    assert reason in response.content.decode()
    assert Commitment.objects.count() == before
    assert not Commitment.objects.filter(investor=ines).exists()


def test_a_closed_project_shows_no_commit_form(client, ines, amina, goats):
    project_close(actor=amina, project=goats, reason="enough for this season")
    client.force_login(ines)
    page = client.get(_page(goats)).content.decode()
    assert 'name="request_id"' not in page
    assert "This project is not taking commitments." in page


def test_borrowers_and_staff_see_no_commit_form_and_a_forged_post_stores_nothing(
    client, wanjiru, juma, amina, goats
):
    for person in (wanjiru, juma, amina):
        client.force_login(person)
        page = client.get(_page(goats)).content.decode()
        assert 'data-figure="committed"' in page  # the figures are public
        assert 'name="request_id"' not in page and _commit_url(goats) not in page
        forged = client.post(_commit_url(goats), {"amount": "5000", "request_id": "forged-00001"})
        assert forged.status_code == 403
    client.logout()
    page = client.get(_page(goats)).content.decode()
    assert "as an investor to fund this project" in page
    anonymous = client.post(_commit_url(goats), {"amount": "5000", "request_id": "forged-00002"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    assert not Commitment.objects.exists()


def test_anyone_reads_a_projects_funding_figures(client, goats, ines, commit, juma):
    services.commitment_confirm(actor=juma, commitment=commit(ines, goats, "50000"), reference="B1")
    commit(ines, goats, "25000")

    figures = client.get(reverse("project-funding", args=[goats.pk])).json()

    assert figures == {
        "project": str(goats.pk),
        "currency": "KES",
        "target": "500000.00",
        "committed": "75000.00",
        "confirmed": "50000.00",
        "left": "425000.00",
        "investors": 1,
        "open": True,
        "committed_percent": "15.0",
        "confirmed_percent": "10.0",
        "text": {
            "target": "500,000.00 KES",
            "committed": "75,000.00 KES",
            "confirmed": "50,000.00 KES",
            "left": "425,000.00 KES",
        },
    }


def test_a_drafts_funding_is_nobodys_business(client, juma):
    draft = project_create(actor=juma, terms=goat_terms())
    assert client.get(reverse("project-funding", args=[draft.pk])).status_code == 404


# --- a commitment's page -------------------------------------------------------------------------


def test_ines_cancels_her_pending_commitment_and_pablo_cannot_see_it(
    client, ines, pablo, goats, commit, juma
):
    mine = commit(ines, goats, "5000")
    client.force_login(pablo)
    assert client.get(_commitment_url(mine)).status_code == 404
    cancel = reverse("invest:commitment-cancel", args=[mine.pk])
    assert client.post(cancel).status_code == 404
    mine.refresh_from_db()
    assert mine.status == CommitmentStatus.PENDING

    client.force_login(ines)
    page = client.get(_commitment_url(mine)).content.decode()
    assert "Cancel this commitment" in page and "You committed." in page
    response = client.post(cancel, follow=True)
    assert "You cancelled this commitment." in response.content.decode()
    mine.refresh_from_db()
    assert mine.status == CommitmentStatus.CANCELLED

    confirmed = commit(ines, goats, "6000")
    services.commitment_confirm(actor=juma, commitment=confirmed, reference="BANK-77")
    page = client.get(_commitment_url(confirmed)).content.decode()
    assert "Cancel this commitment" not in page
    assert "Kijani Microfinance confirmed receiving the funds (reference BANK-77)." in page


# --- the portfolio and statements after a funded loan's repayments -----------------------------


def _funded_and_repaid(active_loan, simple_goats, juma, commit, ines, pablo):
    """Ines (1,000 KES) and Pablo (2,000 KES) fund Wanjiru's 12,000 KES loan; Juma records two
    repayments today."""
    loan = active_loan(amount="12000", duration=12)
    for investor, amount, reference in ((ines, "1000.00", "B1"), (pablo, "2000.00", "B2")):
        services.commitment_confirm(
            actor=juma, commitment=commit(investor, simple_goats, amount), reference=reference
        )
    for reference, amount in (("R1", "1234.56"), ("R2", "777.77")):
        loans.repayment_record(
            actor=juma, loan=loan, amount=amount, reference=reference, rail="cash",
            paid_on=timezone.localdate(),
        )  # fmt: skip
    return loan


def test_ines_sees_her_portfolio_after_repayments(
    client, active_loan, simple_goats, juma, commit, ines, pablo
):
    loan = _funded_and_repaid(active_loan, simple_goats, juma, commit, ines, pablo)
    mine = Distribution.objects.filter(commitment__investor=ines)
    principal = sum(d.principal for d in mine)
    interest = sum(d.interest for d in mine)
    assert principal > 0 and interest > 0
    client.force_login(ines)

    home = client.get(HOME).content.decode()
    assert "Hello, Ines" in home
    assert 'data-total="invested">1,000.00<' in home
    assert f'data-total="outstanding">{D("1000.00") - principal:,.2f}<' in home
    assert f'data-total="interest">{interest:,.2f}<' in home

    page = client.get(PORTFOLIO).content.decode()
    commitment = Commitment.objects.get(investor=ines)
    row = page[page.index(f'data-position="{commitment.pk}"') :]
    assert "Goats, plain terms" in row[:400]
    assert f'data-cell="returned">{principal:,.2f}<' in row
    assert f'data-cell="interest">{interest:,.2f}<' in row
    assert f'data-cell="outstanding">{D("1000.00") - principal:,.2f}<' in row
    # The chart: invested and received to date.
    assert 'data-chart-total="invested">1,000.00 KES<' in page
    assert f'data-chart-total="received">{principal + interest:,.2f} KES<' in page

    # Expected: her third of every installment's principal and interest, month by month;
    # actual: what she was distributed, this month.
    flows = selectors.expected_and_actual(selectors.investor_positions(investor=ines))[
        commitment.pk
    ]
    scheduled = sum(i.principal + i.interest for i in loan.installments.all())
    assert abs(sum(f.expected for f in flows) - scheduled / 3) <= D("0.01") * len(flows)
    this_month = timezone.localdate().replace(day=1)
    assert [f.actual for f in flows if f.month == this_month] == [principal + interest]
    assert f'data-month="{this_month:%Y-%m}"' in page

    # Funded three months ago, her return is a rate: shown as a percentage.
    Commitment.objects.filter(pk=commitment.pk).update(
        confirmed_at=timezone.now() - timedelta(days=91)
    )
    [totals] = selectors.portfolio_totals(selectors.investor_positions(investor=ines))
    assert totals.xirr is not None and totals.xirr > 0
    home = client.get(HOME).content.decode()
    assert f'data-total="xirr">{totals.xirr * 100:.2f} %<' in home


def test_statements_reconcile_on_the_page_in_the_csv_and_in_the_pdf(
    client, active_loan, simple_goats, juma, commit, ines, pablo
):
    _funded_and_repaid(active_loan, simple_goats, juma, commit, ines, pablo)
    # Not all of it is Latin-1: the PDF spells it plainly.
    Project.objects.filter(pk=simple_goats.pk).update(name="Mbuzi \u2013 \u2018maziwa\u2019 \u5c71")
    today = timezone.localdate()
    statement = selectors.investor_statement(
        investor=ines, currency="KES", start=today.replace(day=1), end=today
    )
    client.force_login(ines)

    page = client.get(STATEMENTS).content.decode()  # this month, by default
    assert f'value="{today.replace(day=1):%Y-%m-%d}"' in page
    assert 'data-balance="opening">0.00<' in page
    assert f'data-balance="closing"><strong>{statement.closing:,.2f}<' in page
    assert page.count('data-row="line"') == len(statement.lines)

    query = f"?currency=KES&start={today.replace(day=1):%Y-%m-%d}&end={today:%Y-%m-%d}"
    response = client.get(STATEMENT_CSV + query)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    opening, *movements, closing = [r for r in rows if not r["movement"].startswith("total ")]
    assert opening["movement"] == "opening balance" and closing["movement"] == "closing balance"
    assert len(movements) == len(statement.lines)
    balance = D(opening["balance"]) + sum(D(r["balance change"]) for r in movements)
    assert (
        balance
        == D(closing["balance"])
        == statement.closing
        == D("1000")
        - sum(d.principal for d in Distribution.objects.filter(commitment__investor=ines))
    )
    assert movements[-1]["balance"] == closing["balance"]
    totals = {r["movement"]: D(r["cash"]) for r in rows if r["movement"].startswith("total ")}
    assert totals["total invested"] == D("-1000.00")
    assert totals["total interest"] == statement.total("interest") > 0
    assert rows[-1]["movement"] == "closing balance"

    pdf = client.get(STATEMENT_PDF + query)
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_a_bad_period_is_explained(client, ines, goats, commit, juma):
    services.commitment_confirm(actor=juma, commitment=commit(ines, goats, "5000"), reference="B")
    client.force_login(ines)
    page = client.get(STATEMENTS + "?currency=KES&start=2026-05-31&end=2026-05-01")
    assert "The end comes on or after the start." in page.content.decode()
    download = client.get(STATEMENT_CSV + "?currency=XXX&start=2026-05-01&end=2026-05-31")
    assert download.status_code == 302 and download["Location"].startswith(STATEMENTS)


def test_no_statement_before_any_funds(client, ines):
    client.force_login(ines)
    assert "No movements yet" in client.get(STATEMENTS).content.decode()


def test_the_portfolio_costs_the_same_queries_for_two_or_eight_commitments(
    client, active_loan, simple_goats, juma, commit, ines
):
    loan = active_loan(amount="12000", duration=12)

    def fund(count: int, reference: str) -> None:
        for _ in range(count):
            commitment = commit(ines, simple_goats, "1000")
            services.commitment_confirm(actor=juma, commitment=commitment, reference="B")
        loans.repayment_record(
            actor=juma, loan=loan, amount="500", reference=reference, rail="cash",
            paid_on=timezone.localdate(),
        )  # fmt: skip

    client.force_login(ines)
    fund(2, "R1")
    two = page_queries(client, PORTFOLIO)
    fund(6, "R2")
    assert Commitment.objects.filter(investor=ines).count() == 8
    assert page_queries(client, PORTFOLIO) == two
    assert page_queries(client, HOME) <= two


# --- live progress over WebSocket ----------------------------------------------------------------


def _kijani_goats() -> Project:
    from tests.factories import OrganizationFactory, StaffFactory

    kijani = OrganizationFactory(name="Kijani Microfinance", slug="kijani")
    amina = StaffFactory(role="originator_admin", organization=kijani)
    juma = StaffFactory(role="originator_agent", organization=kijani)
    return project_publish(actor=amina, project=project_create(actor=juma, terms=goat_terms()))


def _investor(email: str):
    from tests.factories import UserFactory

    return UserFactory(email=email, role="investor")


def _communicator(project_id) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application,
        f"/ws/projects/{project_id}/funding/",
        headers=[(b"origin", b"http://127.0.0.1")],
    )


@pytest.mark.django_db(transaction=True)
async def test_an_open_page_hears_the_new_figures_after_a_commitment(monkeypatch):
    # Only the services' message counts.
    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 60)
    monkeypatch.setattr(consumers, "SHARED_RECHECK_SECONDS", 60)
    goats = await sync_to_async(_kijani_goats)()
    ines = await sync_to_async(_investor)("ines@example.org")
    communicator = _communicator(goats.pk)  # anyone may listen: no one is signed in
    connected, _ = await communicator.connect()
    assert connected
    first = await communicator.receive_json_from(timeout=2)
    assert (first["committed"], first["investors"]) == ("0.00", 0)

    await sync_to_async(services.commitment_create)(
        investor=ines, project=goats, amount="40000", request_id="page-load-0001"
    )

    heard = await communicator.receive_json_from(timeout=2)
    assert (heard["committed"], heard["confirmed"], heard["investors"]) == ("40000.00", "0.00", 1)
    assert heard["text"]["left"] == "460,000.00 KES" and heard["committed_percent"] == "8.0"
    # The same request again changes nothing and sends nothing.
    await sync_to_async(services.commitment_create)(
        investor=ines, project=goats, amount="40000", request_id="page-load-0001"
    )
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_open_page_hears_changes_made_by_another_process(monkeypatch):
    """Another process's channel layer does not reach this one's: the consumer reads itself."""
    monkeypatch.setattr(consumers, "RECHECK_SECONDS", 0.05)
    monkeypatch.setattr(consumers, "SHARED_RECHECK_SECONDS", 0.05)
    monkeypatch.setattr(progress, "progress_send", lambda **kwargs: None)
    goats = await sync_to_async(_kijani_goats)()
    pablo = await sync_to_async(_investor)("pablo@example.org")
    communicator = _communicator(goats.pk)
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from(timeout=2))["committed"] == "0.00"

    await sync_to_async(services.commitment_create)(
        investor=pablo, project=goats, amount="10000", request_id="elsewhere-0001"
    )

    assert (await communicator.receive_json_from(timeout=2))["committed"] == "10000.00"
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_no_one_listens_to_a_draft_or_a_project_that_does_not_exist():
    from tests.factories import OrganizationFactory, StaffFactory

    def draft() -> Project:
        juma = StaffFactory(role="originator_agent", organization=OrganizationFactory())
        return project_create(actor=juma, terms=goat_terms())

    for project_id in (
        (await sync_to_async(draft)()).pk,
        "00000000-0000-4000-8000-000000000000",
    ):
        connected, code = await _communicator(project_id).connect()
        assert not connected and code == consumers.CLOSE_NOT_FOUND
    await sync_to_async(connections.close_all)()  # the draft's, so the test database can go
