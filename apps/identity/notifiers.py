"""Reaching a person outside the node (reminders, replies, codes): pluggable backends.

GROWR_NOTIFIERS lists the backends every message goes through, by dotted path or by the short
names below. Each backend gets the person and a short subject and text; none may let a failure
stop the caller (a reminder not sent is logged, never a lost repayment).

An SMS backend subclasses `SmsNotifier` and implements `send_sms` for its gateway.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from functools import cache

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger("growr.notifications")

SHORT_NAMES = {
    "console": "apps.identity.notifiers.ConsoleNotifier",
    "email": "apps.identity.notifiers.EmailNotifier",
}


class Notifier(ABC):
    @abstractmethod
    def send(self, *, user, subject: str, text: str) -> None: ...


class ConsoleNotifier(Notifier):
    """Writes each message to the log (the console of `make run`)."""

    def send(self, *, user, subject: str, text: str) -> None:
        logger.info("to %s: %s\n%s", user.email, subject, text)


class EmailNotifier(Notifier):
    """Sends an e-mail through Django's configured e-mail backend (EMAIL_URL)."""

    def send(self, *, user, subject: str, text: str) -> None:
        send_mail(subject, text, None, [user.email])


class SmsNotifier(Notifier):
    """The interface for an SMS gateway: `phone_of` finds the number, `send_sms` sends it."""

    max_length = 320

    def phone_of(self, user) -> str:
        return getattr(user, "phone", "") or ""

    @abstractmethod
    def send_sms(self, *, to: str, text: str) -> None: ...

    def send(self, *, user, subject: str, text: str) -> None:
        number = self.phone_of(user)
        if number:
            self.send_sms(to=number, text=f"{subject}: {text}"[: self.max_length])


@cache
def _backends(paths: tuple[str, ...]) -> tuple[Notifier, ...]:
    return tuple(import_string(SHORT_NAMES.get(path, path))() for path in paths)


def notifiers() -> tuple[Notifier, ...]:
    return _backends(tuple(settings.GROWR_NOTIFIERS))


def notify(*, user, subject: str, text: str) -> None:
    """Send through every backend once the surrounding transaction commits."""

    def send() -> None:
        for backend in notifiers():
            try:
                backend.send(user=user, subject=subject, text=text)
            except Exception:  # a gateway's failure must not undo or break the caller
                logger.exception("notifier %s failed for %s", type(backend).__name__, user.email)

    transaction.on_commit(send)
