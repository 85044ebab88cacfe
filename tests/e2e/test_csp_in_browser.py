"""The pages the Content-Security-Policy could break if they leaned on inline script or style:
Django's admin, where Ngozi works, and the API's documentation (Swagger UI). The `page`
fixture fails any test whose pages the browser refuses something on."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def test_ngozi_works_in_the_admin_site_under_the_policy(page, node_url, ngozi, wanjiru):
    page.goto(f"{node_url}/admin/login/")
    page.get_by_label("Email").fill(ngozi.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/$"))

    page.goto(f"{node_url}/admin/identity/user/")
    page.get_by_role("link", name=wanjiru.email).click()
    page.wait_for_url(re.compile(r"/change/$"))
    page.goto(f"{node_url}/admin/identity/user/add/")

    assert page.locator("#content h1").inner_text() == "Add user"
    response = page.request.get(f"{node_url}/admin/")
    assert "script-src 'self';" in response.headers["content-security-policy"]


def test_the_api_documentation_renders_under_the_policy(page, node_url):
    page.goto(f"{node_url}/api/docs/")

    # Swagger UI shows the document's title once it has fetched and read the schema.
    page.get_by_text("Growr node API").first.wait_for(timeout=15000)
    page.get_by_text("/api/books/").first.click()
