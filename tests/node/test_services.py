"""Which processes `runnode` may start: known names only, and the gossip agent in one place."""

from __future__ import annotations

import pytest
from django.test import override_settings

from apps.node.processes import checked_services


def test_services_are_deduplicated_in_order():
    assert checked_services([" web", "gossip", "web", ""]) == ["web", "gossip"]


@pytest.mark.parametrize(
    ("names", "message"),
    [(["web", "mailer"], "unknown service"), ([" ", ""], "no service selected")],
)
def test_unknown_or_missing_services_are_refused(names, message):
    with pytest.raises(ValueError, match=message):
        checked_services(names)


@override_settings(GROWR_GOSSIP_IN_WORKER=True)
def test_the_agent_runs_in_the_worker_or_on_its_own_never_both():
    assert checked_services(["worker", "beat"]) == ["worker", "beat"]
    assert checked_services(["gossip"]) == ["gossip"]
    with pytest.raises(ValueError, match="leave 'gossip' out"):
        checked_services(["web", "worker", "gossip"])
