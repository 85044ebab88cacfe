"""Who is signed in is read from the cache while the node's processes share one (Redis), with
their organization, and every change of the person reaches their next request: Amina (Kijani's
admin) suspends Juma (an agent) and he is signed out at once; Juma's new name, and his
organization's, show on his next page; a password changed elsewhere signs out the sessions made
with the old one, and a rotated secret key is still Django's to judge. Juma's password hash
stays in PostgreSQL. On the embedded default every request reads the person from the database,
as Django does."""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.identity import services
from apps.identity.models import Organization, User
from apps.identity.person_keys import kept_user_key

PROFILE = "/accounts/profile/"


def _signed_in(person: User) -> Client:
    browser = Client()
    browser.force_login(person)
    return browser


def _user_reads(browser: Client) -> int:
    """How many queries one profile page asks of the users' table."""
    with CaptureQueriesContext(connection) as captured:
        assert browser.get(PROFILE).status_code == 200
    return sum(f'FROM "{User._meta.db_table}"' in query["sql"] for query in captured)


def test_a_signed_in_person_is_read_from_the_database_once(juma, shared_cache):
    browser = _signed_in(juma)
    assert _user_reads(browser) == 1

    assert _user_reads(browser) == 0
    assert "Juma Otieno" in browser.get(PROFILE).content.decode()


def test_the_kept_person_holds_no_password_hash_and_a_password_check_still_works(
    juma, shared_cache
):
    juma.set_password("the first passphrase 42")
    juma.save()
    browser = _signed_in(juma)
    browser.get(PROFILE)
    _, (person, session_hash), _ = cache.get(kept_user_key(juma.pk))  # version, body, expiry
    assert session_hash == juma.get_session_auth_hash()
    assert juma.password not in repr(vars(person))

    answer = browser.post(
        "/accounts/password/change/",
        {
            "old_password": "the first passphrase 42",
            "new_password1": "the second passphrase 43",
            "new_password2": "the second passphrase 43",
        },
    )

    assert answer.status_code == 302  # the old password checked against the database's hash
    juma.refresh_from_db()
    assert juma.check_password("the second passphrase 43")
    assert browser.get(PROFILE).status_code == 200  # still signed in, with the new hash


def test_a_suspended_agent_is_signed_out_on_his_next_request(amina, juma, shared_cache):
    agent = _signed_in(juma)
    assert agent.get("/staff/").status_code == 200  # kept now

    _signed_in(amina).post(reverse("staff:member-access", args=[juma.pk]), {"active": "0"})

    assert agent.get("/staff/").url.startswith("/accounts/login/")


def test_a_new_name_shows_on_the_next_page(juma, shared_cache):
    browser = _signed_in(juma)
    browser.get(PROFILE)

    services.user_profile_update(user=User.objects.get(pk=juma.pk), full_name="Juma O. Otieno")

    assert "Juma O. Otieno" in browser.get(PROFILE).content.decode()


def test_juma_s_organization_is_kept_with_him_and_a_new_name_shows_at_once(
    juma, kijani, shared_cache
):
    browser = _signed_in(juma)
    browser.get("/staff/")
    with CaptureQueriesContext(connection) as captured:
        assert browser.get("/staff/").status_code == 200
    assert not [q for q in captured if f'FROM "{Organization._meta.db_table}"' in q["sql"]]

    kijani.name = "Kijani Credit"
    kijani.save()

    assert "Kijani Credit · originator dashboard" in browser.get("/staff/").content.decode()


def test_a_password_changed_elsewhere_signs_out_the_old_sessions(juma, shared_cache):
    browser = _signed_in(juma)
    browser.get(PROFILE)

    juma.set_password("a whole new passphrase 42")
    juma.save()

    assert browser.get(PROFILE).url.startswith("/accounts/login/")


def test_sessions_made_before_a_secret_key_rotation_stay_signed_in(juma, shared_cache, settings):
    """The kept person's hash, made with the new key, does not match such a session's: Django's
    own get_user checks it against the old keys and moves the session to the new one."""
    settings.SECRET_KEY = "the key of last year " * 3
    browser = _signed_in(juma)
    browser.get(PROFILE)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the key of this year " * 3

    assert browser.get(PROFILE).status_code == 200
    assert browser.session["_auth_user_hash"] == juma.get_session_auth_hash()

    settings.SECRET_KEY_FALLBACKS = []
    settings.SECRET_KEY = "a key no session was made with " * 2
    assert browser.get(PROFILE).url.startswith("/accounts/login/")


def test_without_a_shared_cache_every_request_reads_the_person(juma, settings):
    settings.GROWR_CACHE_SHARED = False
    browser = _signed_in(juma)
    browser.get(PROFILE)

    assert _user_reads(browser) == 1
