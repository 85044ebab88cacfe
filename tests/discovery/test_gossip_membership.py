"""SWIM membership with Lifeguard suspicion: who is alive, suspect, dead or gone, as each node
decides from the (already verified) claims it hears."""

from __future__ import annotations

import hashlib
import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from apps.discovery.gossip.claims import Claim, NodeRecord, Role, Status
from apps.discovery.gossip.membership import Declare, Membership, Refute, StatusChanged, Timers


def node(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


KIJANI, AMANI, INES, PABLO = node("kijani"), node("amani"), node("ines"), node("pablo")


def claim(status: Status, subject: bytes, incarnation: int, accuser: bytes | None = None) -> Claim:
    return Claim(status, subject, incarnation, accuser or subject, b"")


def record(node_id: bytes, seq: int, name: str = "Amani Microfinance") -> NodeRecord:
    return NodeRecord(
        network_id=b"n" * 32,
        node_id=node_id,
        public_key=b"k" * 32,
        seq=seq,
        role=Role.ORIGINATOR,
        name=name,
        url="https://amani.example",
        gossip_host="amani.example",
        gossip_port=7946,
        books=(),
        raw=b"",
    )


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - reproducible picks in a test


def kijanis_view(**timers) -> Membership:
    view = Membership(self_id=KIJANI, timers=Timers(**timers))
    for member in (AMANI, INES, PABLO):
        view.apply_claim(claim(Status.ALIVE, member, 1), now=0.0)
    return view


def test_a_node_heard_alive_joins_the_table_with_its_latest_record():
    view = Membership(self_id=KIJANI)
    view.apply_record(record(AMANI, seq=3))

    events = view.apply_claim(claim(Status.ALIVE, AMANI, 1), now=0.0)

    assert events == [StatusChanged(AMANI, None, Status.ALIVE, 1)]
    assert view.get(AMANI).record.seq == 3
    assert not view.apply_record(record(AMANI, seq=3, name="Replayed"))
    assert not view.apply_record(record(AMANI, seq=2, name="Older"))
    assert view.apply_record(record(AMANI, seq=4, name="Amani MFI"))
    assert view.get(AMANI).record.name == "Amani MFI"


def test_an_unconfirmed_suspicion_becomes_a_death_at_the_maximum_timeout():
    view = kijanis_view()
    timers = view.timers

    assert view.suspect(AMANI) == [Declare(AMANI, Status.SUSPECT, 1)]
    events = view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=KIJANI), now=10.0)

    assert events == [StatusChanged(AMANI, Status.ALIVE, Status.SUSPECT, 1)]
    deadline = 10.0 + timers.suspicion_max(len(view) + 1)
    assert view.tick(now=deadline - 0.01) == []
    assert view.tick(now=deadline) == [Declare(AMANI, Status.DEAD, 1)]
    death = view.apply_claim(claim(Status.DEAD, AMANI, 1, accuser=KIJANI), now=deadline)
    assert death == [StatusChanged(AMANI, Status.SUSPECT, Status.DEAD, 1)]
    assert view.get(AMANI).claim.status is Status.DEAD


def test_independent_confirmations_shorten_the_suspicion_but_repeats_do_not():
    view = kijanis_view()
    view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=KIJANI), now=0.0)
    maximum = view.get(AMANI).suspicion.deadline

    view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=KIJANI), now=1.0)
    assert view.get(AMANI).suspicion.deadline == maximum
    view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=INES), now=1.0)
    one_confirmation = view.get(AMANI).suspicion.deadline
    view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=PABLO), now=1.0)
    two_confirmations = view.get(AMANI).suspicion.deadline

    assert maximum > one_confirmation > two_confirmations
    assert two_confirmations == view.timers.suspicion_min(len(view) + 1)


def test_a_failed_probe_of_a_member_suspected_by_others_confirms_the_suspicion_once():
    view = kijanis_view()
    view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=INES), now=0.0)
    maximum = view.get(AMANI).suspicion.deadline

    assert view.suspect(AMANI) == [Declare(AMANI, Status.SUSPECT, 1)]
    events = view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=KIJANI), now=1.0)

    assert [type(e).__name__ for e in events] == ["Confirmed"]
    assert view.get(AMANI).suspicion.deadline < maximum
    assert view.suspect(AMANI) == []
    view.apply_claim(claim(Status.DEAD, AMANI, 1, accuser=INES), now=2.0)
    assert view.suspect(AMANI) == []


def test_confirmations_beyond_the_needed_ones_neither_count_nor_are_passed_on():
    view = kijanis_view()
    others = [node(f"member-{n}") for n in range(5)]
    for member in others:
        view.apply_claim(claim(Status.ALIVE, member, 1), now=0.0)
    view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=INES), now=0.0)
    view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=PABLO), now=0.0)
    events = view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=others[0]), now=0.0)
    assert [type(e).__name__ for e in events] == ["Confirmed"]
    shortest = view.get(AMANI).suspicion.deadline

    assert view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=others[1]), now=0.0) == []
    assert view.get(AMANI).suspicion.deadline == shortest
    assert view.suspect(AMANI) == []  # this node's failed probe adds nothing either


def test_a_suspected_node_refutes_with_a_higher_incarnation_that_clears_the_suspicion():
    amanis_view = Membership(self_id=AMANI, incarnation=1)
    view = kijanis_view()
    view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=KIJANI), now=0.0)

    refutation = amanis_view.apply_claim(claim(Status.SUSPECT, AMANI, 1, KIJANI), now=0.5)
    assert refutation == [Refute(2)]
    assert amanis_view.apply_claim(claim(Status.SUSPECT, AMANI, 1, INES), now=0.6) == []

    view.apply_claim(claim(Status.ALIVE, AMANI, 2), now=1.0)
    assert view.get(AMANI).status is Status.ALIVE
    assert view.get(AMANI).suspicion is None
    assert view.tick(now=1000.0) == []


def test_a_dead_node_comes_back_only_with_a_higher_incarnation():
    view = kijanis_view()
    view.apply_claim(claim(Status.DEAD, INES, 1, accuser=PABLO), now=5.0)

    view.apply_claim(claim(Status.ALIVE, INES, 1), now=6.0)  # a stale alive, replayed
    assert view.get(INES).status is Status.DEAD
    view.apply_claim(claim(Status.SUSPECT, INES, 1, accuser=AMANI), now=6.0)
    assert view.get(INES).status is Status.DEAD

    view.apply_claim(claim(Status.ALIVE, INES, 2), now=7.0)
    assert (view.get(INES).status, view.get(INES).incarnation) == (Status.ALIVE, 2)


def test_claims_older_than_what_is_known_change_nothing():
    view = kijanis_view()
    view.apply_claim(claim(Status.ALIVE, PABLO, 5), now=1.0)

    assert view.apply_claim(claim(Status.DEAD, PABLO, 4, accuser=INES), now=2.0) == []
    assert view.apply_claim(claim(Status.LEFT, PABLO, 3), now=2.0) == []
    assert (view.get(PABLO).status, view.get(PABLO).incarnation) == (Status.ALIVE, 5)


def test_a_node_that_left_is_forgotten_after_the_tombstone_time():
    view = kijanis_view(tombstone_seconds=60.0)
    view.apply_claim(claim(Status.LEFT, PABLO, 1), now=10.0)

    view.tick(now=69.0)
    assert view.get(PABLO).status is Status.LEFT
    view.tick(now=71.0)
    assert view.get(PABLO) is None


def test_timers_follow_the_lan_profile_at_a_thousand_nodes():
    timers = Timers()

    assert timers.retransmit_limit(1000) == 16
    assert timers.suspicion_min(1000) == 12.0
    assert timers.suspicion_max(1000) == 72.0
    assert timers.suspicion_min(3) == 4.0


SUBJECTS = [AMANI, INES, PABLO]
claims = st.builds(
    lambda status, subject, incarnation, accuser: claim(
        status, subject, incarnation, subject if status in (Status.ALIVE, Status.LEFT) else accuser
    ),
    st.sampled_from(list(Status)),
    st.sampled_from(SUBJECTS),
    st.integers(min_value=0, max_value=4),
    st.sampled_from([*SUBJECTS, KIJANI]),
)


@given(st.lists(claims, max_size=30), st.randoms(use_true_random=False))
def test_nodes_that_hear_the_same_claims_in_any_order_agree_once_they_hear_them_again(
    heard, shuffle
):
    """An accusation made before its subject's announcement reached a node is dropped there,
    so agreement needs the claims once more: what anti-entropy and retransmission give."""
    in_order = Membership(self_id=KIJANI)
    shuffled = Membership(self_id=KIJANI)
    reordered = list(heard)
    shuffle.shuffle(reordered)

    for at, item in enumerate(heard + heard):
        in_order.apply_claim(item, now=float(at))
    for at, item in enumerate(reordered + reordered):
        shuffled.apply_claim(item, now=float(at))

    def states(view):
        return {m.node_id: (m.status, m.incarnation) for m in view.members()}

    assert states(in_order) == states(shuffled)
    for subject in {c.subject for c in heard}:
        about = [c for c in heard if c.subject == subject]
        announced = max((c.incarnation for c in about if c.self_signed), default=-1)
        believed = [c for c in about if c.self_signed or announced >= c.incarnation]
        if not believed:
            assert subject not in states(in_order)
            continue
        top = max(believed, key=lambda c: (c.incarnation, int(c.status)))
        assert states(in_order)[subject] == (top.status, top.incarnation)


def test_an_accusation_above_what_its_subject_announced_is_not_believed():
    view = kijanis_view()  # Amani announced incarnation 1

    assert view.apply_claim(claim(Status.DEAD, AMANI, 2**64 - 1, accuser=INES), now=1.0) == []
    assert view.apply_claim(claim(Status.SUSPECT, node("nobody"), 0, accuser=INES), now=1.0) == []
    assert (view.get(AMANI).status, view.get(AMANI).incarnation) == (Status.ALIVE, 1)
    assert view.get(node("nobody")) is None


def test_a_node_refutes_only_accusations_at_its_current_incarnation():
    amanis_view = Membership(self_id=AMANI, incarnation=5)

    assert amanis_view.apply_claim(claim(Status.DEAD, AMANI, 4, accuser=INES), now=0) == []
    assert amanis_view.apply_claim(claim(Status.DEAD, AMANI, 2**64 - 1, accuser=INES), now=0) == []
    assert amanis_view.apply_claim(claim(Status.SUSPECT, AMANI, 5, accuser=INES), now=0) == [
        Refute(6)
    ]
    assert amanis_view.incarnation == 6


def test_suspected_lists_the_running_suspicions_only():
    view = kijanis_view()
    view.apply_claim(claim(Status.SUSPECT, AMANI, 1, accuser=INES), now=1.0)
    view.apply_claim(claim(Status.DEAD, PABLO, 1, accuser=INES), now=1.0)
    assert [m.node_id for m in view.suspected()] == [AMANI]

    view.apply_claim(claim(Status.ALIVE, AMANI, 2), now=2.0)
    assert view.suspected() == []


def test_a_random_sample_is_distinct_acceptable_members_each_about_equally_often():
    view = Membership(self_id=KIJANI)
    others = [node(f"member-{n}") for n in range(40)]
    for member in others:
        view.apply_claim(claim(Status.ALIVE, member, 1), now=0.0)
    for member in others[:10]:
        view.apply_claim(claim(Status.DEAD, member, 1, accuser=AMANI), now=0.0)
    alive = set(others[10:])
    rng = seeded(7)
    picks = Counter()

    for _ in range(3000):
        sample = view.sample(rng, 3, lambda m: m.status is Status.ALIVE)
        assert len(sample) == 3 and len({m.node_id for m in sample}) == 3
        picks.update(m.node_id for m in sample)

    assert set(picks) == alive
    assert min(picks.values()) > 0.7 * 300 and max(picks.values()) < 1.3 * 300


def test_a_sample_with_few_acceptable_members_finds_them_all():
    view = Membership(self_id=KIJANI)
    others = [node(f"member-{n}") for n in range(100)]
    for member in others:
        view.apply_claim(claim(Status.ALIVE, member, 1), now=0.0)

    sample = view.sample(seeded(1), 3, lambda m: m.node_id in others[:2])

    assert {m.node_id for m in sample} == set(others[:2])
    assert view.sample(seeded(1), 0, lambda m: True) == []


@given(st.lists(claims, max_size=30), st.floats(min_value=0, max_value=200))
def test_the_indexes_agree_with_a_scan_of_the_table(heard, later):
    view = Membership(self_id=KIJANI, timers=Timers(tombstone_seconds=50.0))
    for at, item in enumerate(heard):
        view.apply_claim(item, now=float(at))
    view.tick(now=later)

    table = view.members()
    assert {m.node_id for m in view.suspected()} == {m.node_id for m in table if m.suspicion}
    assert sorted(view._ids) == sorted(m.node_id for m in table)
    sampled = view.sample(seeded(3), 5, lambda m: True)
    assert len(sampled) == min(5, len(table))
