"""Reaching people outside the node through the configured notifiers: console, e-mail, an SMS
gateway; after commit only, and a failing gateway never breaks the change that notified."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.db import transaction

from apps.identity import notifiers


class RecordingSms(notifiers.SmsNotifier):
    sent: list[tuple[str, str]] = []

    def phone_of(self, user) -> str:
        return "+254700000001" if user.email.startswith("wanjiru") else ""

    def send_sms(self, *, to: str, text: str) -> None:
        self.sent.append((to, text))


class BrokenGateway(notifiers.Notifier):
    def send(self, *, user, subject: str, text: str) -> None:
        raise ConnectionError("gateway down")


@pytest.fixture
def backends(settings):
    def use(*paths):
        notifiers._backends.cache_clear()
        settings.GROWR_NOTIFIERS = list(paths)

    yield use
    notifiers._backends.cache_clear()


def test_every_configured_backend_gets_the_message_after_commit(
    wanjiru, backends, caplog, django_capture_on_commit_callbacks
):
    backends("console", "email", f"{__name__}.RecordingSms")
    RecordingSms.sent.clear()
    mail.outbox.clear()
    with (
        caplog.at_level(logging.INFO, logger="growr.notifications"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        notifiers.notify(user=wanjiru, subject="Installment due", text="KES 1,100 on Friday")
        assert not mail.outbox and not RecordingSms.sent  # nothing before the commit
    assert len(callbacks) == 1
    assert mail.outbox[0].to == [wanjiru.email] and mail.outbox[0].subject == "Installment due"
    assert RecordingSms.sent == [("+254700000001", "Installment due: KES 1,100 on Friday")]
    assert "Installment due" in caplog.text


def test_a_person_without_a_phone_gets_no_sms(otieno, backends, django_capture_on_commit_callbacks):
    backends(f"{__name__}.RecordingSms")
    RecordingSms.sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notifiers.notify(user=otieno, subject="x", text="y")
    assert RecordingSms.sent == []


def test_a_failing_gateway_is_logged_and_the_others_still_send(
    wanjiru, backends, caplog, django_capture_on_commit_callbacks
):
    backends(f"{__name__}.BrokenGateway", "email")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        notifiers.notify(user=wanjiru, subject="Payment received", text="Thank you")
    assert len(mail.outbox) == 1
    assert "BrokenGateway failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_notifies_no_one(wanjiru, backends):
    backends("email")
    mail.outbox.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        notifiers.notify(user=wanjiru, subject="Approved", text="…")
        raise RuntimeError("the approval failed")
    assert mail.outbox == []
