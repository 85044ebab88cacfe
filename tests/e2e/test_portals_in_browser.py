"""In a real browser, each persona signs in through the login form and lands in their portal."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _sign_in(page, node_url: str, email: str) -> None:
    page.goto(f"{node_url}/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize(
    ("persona", "portal", "heading", "nav_link"),
    [
        ("amina", "/staff/", "Welcome, Amina", "Team"),
        ("juma", "/staff/", "Welcome, Juma", "Team"),
        ("wanjiru", "/borrow/", "Hello, Wanjiru", "My loans"),
        ("ines", "/invest/", "Hello, Ines", "My investments"),
    ],
)
def test_each_role_signs_in_and_sees_its_portal(
    page, node_url, screenshot, request, persona, portal, heading, nav_link
):
    person = request.getfixturevalue(persona)

    _sign_in(page, node_url, person.email)

    page.wait_for_url(re.compile(re.escape(portal) + "$"))
    assert page.get_by_role("heading", level=1).inner_text() == heading
    assert (
        page.get_by_role("navigation", name="Main").get_by_role("link", name=nav_link).is_visible()
    )
    screenshot("portal")


def test_the_node_operator_signs_in_to_the_admin_site(page, node_url, screenshot, ngozi):
    _sign_in(page, node_url, ngozi.email)

    page.wait_for_url(re.compile(r"/admin/$"))
    assert "Site administration" in page.content()
    screenshot("admin")


def test_a_borrower_is_refused_the_staff_dashboard(page, node_url, screenshot, wanjiru):
    _sign_in(page, node_url, wanjiru.email)
    page.wait_for_url(re.compile(r"/borrow/$"))

    response = page.goto(f"{node_url}/staff/")

    assert response.status == 403
    assert "You do not have access to this page." in page.content()
    screenshot("refused")


def test_a_wrong_password_is_explained(page, node_url, screenshot, wanjiru):
    page.goto(f"{node_url}/accounts/login/")
    page.get_by_label("E-mail").fill(wanjiru.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()

    assert (
        page.get_by_role("alert").inner_text().strip()
        == "E-mail or password is wrong. Please try again."
    )
    screenshot("wrong-password")


def test_a_newcomer_registers_as_investor_on_a_phone_sized_screen(browser, node_url, db):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(f"{node_url}/accounts/register/investor/")
    page.get_by_label("Full name").fill("Achieng Were")
    page.get_by_label("E-mail").fill("achieng@example.org")
    page.get_by_label("Password", exact=True).fill("maize and beans 2026")
    page.get_by_label("Password again").fill("maize and beans 2026")
    page.get_by_role("button", name="Create account").click()

    page.wait_for_url(re.compile(r"/invest/$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, Achieng"
    context.close()
