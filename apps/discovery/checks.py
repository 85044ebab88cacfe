"""System checks of the discovery settings: a bad address fails `manage.py check` and every
command, not the agent an hour later."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.checks import Error, register

from .gossip.transport import parse_address


@register()
def gossip_settings_check(app_configs, **kwargs) -> list[Error]:
    errors = []
    named = [("GROWR_GOSSIP_BIND", settings.GROWR_GOSSIP_BIND)]
    if settings.GROWR_GOSSIP_ADVERTISE:
        named.append(("GROWR_GOSSIP_ADVERTISE", settings.GROWR_GOSSIP_ADVERTISE))
    named += [("GROWR_GOSSIP_SEEDS", seed) for seed in settings.GROWR_GOSSIP_SEEDS]
    for name, value in named:
        try:
            parse_address(value)
        except ValueError as error:
            errors.append(Error(f"{name}: {error}", id="discovery.E001"))
    if (
        not errors
        and not settings.GROWR_GOSSIP_ADVERTISE
        and _unspecified(parse_address(settings.GROWR_GOSSIP_BIND)[0])
    ):
        errors.append(
            Error(
                "GROWR_GOSSIP_BIND listens on every interface; set GROWR_GOSSIP_ADVERTISE to "
                "the HOST:PORT other nodes should connect to.",
                id="discovery.E002",
            )
        )
    if not settings.GROWR_NETWORK or len(settings.GROWR_NETWORK) > 64:
        errors.append(Error("GROWR_NETWORK must be 1 to 64 characters", id="discovery.E003"))
    return errors


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False
