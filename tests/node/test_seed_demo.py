"""The demo data command creates every persona once and prints working logins."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.identity.models import Organization, Role, User
from apps.node.demo import DEMO_PASSWORD


def test_demo_data_is_created_once_and_logins_work(client, db, capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out

    assert User.objects.count() == 7
    assert Organization.objects.count() == 1
    assert first.count("(created)") == 7
    assert second.count("(exists)") == 7
    assert set(User.objects.values_list("role", flat=True)) == set(Role.values)
    # Otieno's rice loan is active and partly repaid; Wanjiru is free to apply.
    from apps.applications.models import Loan

    loan = Loan.objects.get()
    assert (loan.borrower.email, loan.status) == ("otieno@demo.growr.test", "active")
    assert loan.repayments.count() == 1
    # Ines funded the rice project: the repayment is hers; Pablo's funds are still to confirm.
    from apps.funding.models import Commitment, Distribution

    assert set(Commitment.objects.values_list("investor__email", "status")) == {
        ("ines@demo.growr.test", "confirmed"),
        ("pablo@demo.growr.test", "pending"),
    }
    payment = loan.repayments.get()
    assert Distribution.objects.get().principal == payment.principal
    for email, portal in [
        ("admin@kijani.demo.growr.test", "/staff/"),
        ("agent@kijani.demo.growr.test", "/staff/"),
        ("wanjiru@demo.growr.test", "/borrow/"),
        ("ines@demo.growr.test", "/invest/"),
        ("operator@demo.growr.test", "/admin/"),
    ]:
        signed_in = client.post("/accounts/login/", {"username": email, "password": DEMO_PASSWORD})
        assert signed_in.status_code == 302, email
        assert client.get(portal).status_code == 200, portal
        client.post("/accounts/logout/")


def test_demo_data_is_refused_where_settings_forbid_it(db, settings):
    settings.GROWR_DEMO_DATA_ALLOWED = False

    with pytest.raises(CommandError, match="do not allow"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_the_other_demo_nodes_profiles_make_a_second_originator_and_an_investors_node(db, capsys):
    call_command("seed_demo", "--profile", "sahel")
    call_command("seed_demo", "--profile", "sahel")  # again: nothing new
    from apps.projects.models import Project

    sahel = Organization.objects.get()
    assert sahel.name == "Sahel Growers Credit"
    [solar] = Project.objects.all()
    assert (solar.currency, solar.status, solar.organization) == ("XOF", "published", sahel)
    aissatou = User.objects.get(email="aissatou@sahel.demo.growr.test")
    assert set(aissatou.credentials.values_list("credential_type", flat=True)) == {
        "age",
        "cooperative_membership",
    }

    call_command("seed_demo", "--profile", "investor")
    kofi = User.objects.get(email="kofi@own.demo.growr.test")
    assert kofi.role == Role.INVESTOR and kofi.organization is None
    assert "kofi@own.demo.growr.test" in capsys.readouterr().out
