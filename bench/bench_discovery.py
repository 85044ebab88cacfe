"""Benchmark: the discovery gossip protocol (the real engine, apps/discovery/gossip/engine.py) on
a virtual network with virtual time, 1-10 ms latency, message loss and slow nodes
(apps/discovery/gossip/simulation.py), at 100, 1000 and 5000 nodes.

Each size starts as a converged cluster (`VirtualNetwork.add_converged`), then runs, one after
the other on the same network:

- traffic: steady-state bytes sent per node per second (encoded frames, as the transport sends
  them), over BENCH_GOSSIP_STEADY virtual seconds with nothing new to say; and the bytes per
  node to spread one change (the new record, each death) to everyone, net of the steady rate;
- convergence: one node publishes a new record (a higher seq); gossip rounds (gossip_interval
  units) and seconds until 99.99 % of the nodes hold it (every node below 10,000 nodes);
- detection: one node stops; seconds until every live node holds it DEAD (BENCH_GOSSIP_KILLS
  nodes, one after the other);
- false suspicions: BENCH_GOSSIP_NOISY virtual seconds with 1 % of messages lost and 1 % of the
  nodes (at least one) receiving every message a probe timeout late: suspicions raised against
  live nodes, and live nodes declared dead.

References, computed in the same run: the Serf convergence model's rounds to 99.99 % for the
same n and fanout 3 (reference/gossip.md §2.5); the 16 s detection goal, and gossip.md §6's
estimate for the same n and Timers (1.58 probe periods to the first detection, plus the
suspicion minimum, plus the model's rounds); the traffic of the smallest size (for a change,
also the growth of the retransmit limit, 4·ceil(log10(n+1)), every update's sends per node).
Prints each figure and its ratio, and draws docs/discovery-{convergence,detection,traffic}.png
(BENCH_GOSSIP_PLOTS=0 skips them).

Sizes: BENCH_GOSSIP_SIZES=100,1000,5000. Plain Python, no Django.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apps.discovery.gossip.claims import Status  # noqa: E402
from apps.discovery.gossip.membership import Declare  # noqa: E402
from apps.discovery.gossip.records import sign_record  # noqa: E402
from apps.discovery.gossip.simulation import NETWORK, VirtualNetwork  # noqa: E402

SIZES = [int(s) for s in os.environ.get("BENCH_GOSSIP_SIZES", "100,1000,5000").split(",")]
STEADY = float(os.environ.get("BENCH_GOSSIP_STEADY", "30"))
NOISY = float(os.environ.get("BENCH_GOSSIP_NOISY", "60"))
PLOTS = os.environ.get("BENCH_GOSSIP_PLOTS", "1") != "0"
SEED = int(os.environ.get("BENCH_GOSSIP_SEED", "1"))
KILLS = int(os.environ.get("BENCH_GOSSIP_KILLS", "3"))
DOCS = ROOT / "docs"

TARGET = 0.9999
DETECTION_GOAL = 16.0  # seconds, at 1000 nodes (the goal)
SETTLE = 5.0  # virtual seconds between scenarios, for queues to drain
LOSS = 0.01
SLOW_FRACTION = 0.01


def serf_model_fraction(n: int, rounds: float, fanout: int = 3, loss: float = 0.0) -> float:
    """Serf's convergence simulator: infected(x) = n / (1 + (n+1)·e^(-contact·n·x)), with
    contact = (fanout/n)·(1-loss)·0.5, x in gossip rounds (reference/gossip.md §2.5)."""
    contact = fanout / n * (1 - loss) * 0.5
    return 1 / (1 + (n + 1) * math.exp(-contact * n * rounds))


def serf_model_rounds(n: int, target: float = TARGET, fanout: int = 3) -> int:
    """The first whole round at which the model reaches TARGET, as the simulator reports it."""
    rounds = 0
    while serf_model_fraction(n, rounds, fanout) < target:
        rounds += 1
    return rounds


def informed_needed(n: int) -> int:
    """99.99 % of N nodes, rounded up: every node below 10,000."""
    return math.ceil(TARGET * n - 1e-9)


@dataclass
class Result:
    n: int
    wall_build: float = 0.0
    wall_total: float = 0.0
    bytes_per_node_s: float = 0.0
    busy_bytes_per_node_s: float = 0.0
    change_bytes_per_node: float = 0.0
    retransmit_limit: int = 0
    bytes_by_type: dict[str, float] = field(default_factory=dict)
    rounds: float = math.nan
    seconds: float = math.nan
    model_rounds: int = 0
    spread: list[tuple[float, float]] = field(default_factory=list)
    detections: list[float] = field(default_factory=list)
    first_suspected: list[float] = field(default_factory=list)
    dead_curves: list[list[tuple[float, float]]] = field(default_factory=list)
    detection_estimate: float = 0.0
    suspicion_min: float = 0.0
    suspicion_max: float = 0.0
    probes: int = 0
    false_suspicions: int = 0
    suspected_nodes: int = 0
    refutes: int = 0
    false_deaths: int = 0
    dead_in_views: int = 0
    slow: int = 0

    @property
    def detected(self) -> float:
        return sum(self.detections) / len(self.detections)

    @property
    def detected_max(self) -> float:
        return max(self.detections)


def run(n: int) -> Result:
    result = Result(n)
    started = time.perf_counter()
    network = VirtualNetwork(seed=SEED + n)
    nodes = network.add_converged([f"node-{i}" for i in range(n)])
    result.wall_build = time.perf_counter() - started
    timers = network.timers
    network.run_until(SETTLE)

    _traffic(network, result)
    network.run_until(network.now + SETTLE)
    busy_from, busy_bytes = network.now, network.traffic.bytes
    _convergence(network, nodes, result)
    network.run_until(network.now + SETTLE)
    victims = nodes[-KILLS:]
    for victim in victims:
        _detection(network, nodes, victim, result)
        network.run_until(network.now + SETTLE)
    spent = network.traffic.bytes - busy_bytes
    steady = result.bytes_per_node_s * n * (network.now - busy_from)
    result.change_bytes_per_node = (spent - steady) / n / (1 + KILLS)
    result.retransmit_limit = timers.retransmit_limit(n)
    _noise(network, [node for node in nodes if node not in victims], result)
    busy = (network.traffic.bytes - busy_bytes) / n / (network.now - busy_from)
    result.busy_bytes_per_node_s = busy

    result.suspicion_min = timers.suspicion_min(n)
    result.suspicion_max = timers.suspicion_max(n)
    result.detection_estimate = (
        1.58 * timers.probe_interval
        + result.suspicion_min
        + result.model_rounds * timers.gossip_interval
    )
    result.wall_total = time.perf_counter() - started
    return result


def _traffic(network: VirtualNetwork, result: Result) -> None:
    before, by_type = network.traffic.bytes, dict(network.traffic.by_type)
    start = network.now
    network.run_until(start + STEADY)
    per = result.n * (network.now - start)
    result.bytes_per_node_s = (network.traffic.bytes - before) / per
    result.bytes_by_type = {
        kind: (size - by_type.get(kind, 0)) / per for kind, size in network.traffic.by_type.items()
    }


def _convergence(network: VirtualNetwork, nodes, result: Result) -> None:
    publisher = nodes[0]
    old = publisher.record
    record = sign_record(
        publisher.key,
        network_id=NETWORK,
        seq=old.seq + 1,
        role=old.role,
        name=old.name,
        url=old.url.replace("https://", "https://v2."),
        gossip_host=old.gossip_host,
        gossip_port=old.gossip_port,
        books=old.books,
    )
    others = [node.membership for node in nodes if node is not publisher]
    node_id, seq = publisher.node_id, record.seq
    publisher.update_record(record)
    start, needed = network.now, informed_needed(result.n)
    step = network.timers.gossip_interval / 10

    def informed() -> int:
        return 1 + sum(1 for m in others if (r := m.record(node_id)) and r.seq >= seq)

    count = informed()
    result.spread.append((0.0, count / result.n))
    while count < needed and network.now - start < 60.0:
        network.run_until(network.now + step)
        count = informed()
        result.spread.append((network.now - start, count / result.n))
    if count >= needed:
        result.seconds = network.now - start
        result.rounds = result.seconds / network.timers.gossip_interval
    result.model_rounds = serf_model_rounds(result.n)


def _detection(network: VirtualNetwork, nodes, victim, result: Result) -> None:
    live = [n.membership for n in nodes if n.node_id not in network.stopped and n is not victim]
    network.stop(victim.node_id)
    start, step = network.now, 0.1

    def states() -> tuple[int, int]:
        dead = suspect = 0
        for membership in live:
            status = membership.get(victim.node_id).status
            dead += status is Status.DEAD
            suspect += status is Status.SUSPECT
        return dead, suspect

    dead, first_suspected, curve = 0, math.nan, [(0.0, 0.0)]
    while dead < len(live) and network.now - start < 200.0:
        network.run_until(network.now + step)
        dead, suspect = states()
        if (suspect or dead) and math.isnan(first_suspected):
            first_suspected = network.now - start
        curve.append((network.now - start, dead / len(live)))
    result.first_suspected.append(first_suspected)
    result.dead_curves.append(curve)
    result.detections.append(network.now - start if dead == len(live) else math.nan)


def _noise(network: VirtualNetwork, live, result: Result) -> None:
    """Loss and slow nodes; every death a node declares of a live member is a false one."""
    network.loss = LOSS
    slow = live[1 :: max(1, round(1 / SLOW_FRACTION))][: max(1, round(SLOW_FRACTION * len(live)))]
    for node in slow:
        network.slow[node.node_id] = network.timers.probe_timeout
    result.slow = len(slow)
    live_ids = {node.node_id for node in live}
    deaths: list[bytes] = []
    for node in live:
        _count_deaths(node.membership, live_ids, deaths)
    before = [
        (node.counters.suspicions, node.counters.refutes, node.counters.probes) for node in live
    ]
    suspected: set[bytes] = set()
    for node in live:
        _note_suspicions(node, live_ids, suspected)

    network.run_until(network.now + NOISY)

    network.loss = 0.0
    network.slow.clear()
    for node, (suspicions, refutes, probes) in zip(live, before, strict=True):
        result.false_suspicions += node.counters.suspicions - suspicions
        result.refutes += node.counters.refutes - refutes
        result.probes += node.counters.probes - probes
    result.suspected_nodes = len(suspected)
    result.false_deaths = len(deaths)
    result.dead_in_views = sum(
        1
        for node in live
        for member in node.membership.members(Status.DEAD)
        if member.node_id in live_ids
    )


def _count_deaths(membership, live_ids: set[bytes], deaths: list[bytes]) -> None:
    """Instrument (not change) MEMBERSHIP.tick: note every DEAD it declares about a live node."""
    tick = membership.tick

    def counted(*, now: float):
        events = tick(now=now)
        for event in events:
            if isinstance(event, Declare) and event.node_id in live_ids:
                deaths.append(event.node_id)
        return events

    membership.tick = counted


def _note_suspicions(node, live_ids: set[bytes], suspected: set[bytes]) -> None:
    """Instrument NODE's membership.suspect: note which live nodes its failed probes accuse."""
    suspect = node.membership.suspect

    def noted(node_id: bytes):
        events = suspect(node_id)
        if events and node_id in live_ids:
            suspected.add(node_id)
        return events

    node.membership.suspect = noted


def main() -> None:
    results = []
    for n in SIZES:
        result = run(n)
        results.append(result)
        _print_one(result, results[0])
    _print_table(results)
    if PLOTS:
        _plot(results)


def _print_one(r: Result, base: Result) -> None:
    print(f"== {r.n} nodes (built in {r.wall_build:.1f} s, ran in {r.wall_total:.1f} s wall)")
    print(
        f"  traffic: {r.bytes_per_node_s:,.1f} B/node/s sent "
        f"({', '.join(f'{k} {v:,.1f}' for k, v in sorted(r.bytes_by_type.items()))}); "
        f"ratio to {base.n} nodes {r.bytes_per_node_s / base.bytes_per_node_s:.2f}; busy "
        f"{r.busy_bytes_per_node_s:,.1f} B/node/s, ratio "
        f"{r.busy_bytes_per_node_s / base.busy_bytes_per_node_s:.2f} (with loss and 1 % slow "
        f"nodes, events grow with n); per change {r.change_bytes_per_node:,.0f} B/node, ratio "
        f"{r.change_bytes_per_node / base.change_bytes_per_node:.2f} (retransmit limit "
        f"{r.retransmit_limit}, ratio {r.retransmit_limit / base.retransmit_limit:.2f})"
    )
    print(
        f"  convergence to {TARGET:.2%}: {r.rounds:.1f} rounds ({r.seconds:.2f} s); Serf model "
        f"{r.model_rounds} rounds; ratio {r.rounds / r.model_rounds:.2f}"
    )
    print(
        f"  detection ({len(r.detections)} kills): first suspected after "
        f"{', '.join(f'{t:.1f}' for t in r.first_suspected)} s, dead everywhere after "
        f"{', '.join(f'{t:.1f}' for t in r.detections)} s; mean {r.detected:.1f} s, max "
        f"{r.detected_max:.1f} s; ratio of the max to the {DETECTION_GOAL:g} s goal "
        f"{r.detected_max / DETECTION_GOAL:.2f}, to the §6 estimate "
        f"{r.detection_estimate:.1f} s {r.detected_max / r.detection_estimate:.2f}; "
        f"suspicion timeout {r.suspicion_min:.1f}-{r.suspicion_max:.1f} s"
    )
    print(
        f"  {NOISY:g} s at {LOSS:.0%} loss, {r.slow} slow node(s): {r.false_suspicions} false "
        f"suspicions of {r.suspected_nodes} live nodes in {r.probes} probes "
        f"({r.false_suspicions / max(r.probes, 1):.2%}), {r.refutes} refutes, "
        f"{r.false_deaths} false deaths, {r.dead_in_views} live nodes dead in a view"
    )
    sys.stdout.flush()


def _print_table(results: list[Result]) -> None:
    base = results[0]
    print()
    print(
        f"{'nodes':>6} {'rounds':>7} {'model':>6} {'ratio':>6} {'seconds':>8} {'detect s':>9} "
        f"{'max s':>6} {'/16 s':>6} {'false susp':>11} {'false dead':>11} {'B/node/s':>9} "
        f"{'/base':>6} {'B/change':>9} {'/base':>6} {'wall s':>7}"
    )
    for r in results:
        print(
            f"{r.n:>6} {r.rounds:>7.1f} {r.model_rounds:>6} {r.rounds / r.model_rounds:>6.2f} "
            f"{r.seconds:>8.2f} {r.detected:>9.1f} {r.detected_max:>6.1f} "
            f"{r.detected_max / DETECTION_GOAL:>6.2f} "
            f"{r.false_suspicions:>11} {r.false_deaths:>11} {r.bytes_per_node_s:>9.1f} "
            f"{r.bytes_per_node_s / base.bytes_per_node_s:>6.2f} {r.change_bytes_per_node:>9.0f} "
            f"{r.change_bytes_per_node / base.change_bytes_per_node:>6.2f} {r.wall_total:>7.1f}"
        )
    print(
        f"references: Serf convergence model, fanout 3, {TARGET:.2%}; detection goal "
        f"{DETECTION_GOAL:g} s; traffic of {base.n} nodes; {NOISY:g} s at {LOSS:.0%} loss with "
        f"{SLOW_FRACTION:.0%} slow nodes (goal: 0 false deaths)"
    )


def _plot(results: list[Result]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    interval = 0.2
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r, colour in zip(results, colours, strict=False):
        xs = [t / interval for t, _ in r.spread]
        ax.plot(xs, [f for _, f in r.spread], color=colour, label=f"measured, n={r.n}")
        top = max(xs[-1], r.model_rounds) + 1
        model_x = [x / 10 for x in range(int(top * 10) + 1)]
        model_y = [serf_model_fraction(r.n, x) for x in model_x]
        ax.plot(model_x, model_y, color=colour, linestyle="--", label=f"Serf model, n={r.n}")
    ax.axhline(TARGET, color="grey", linewidth=0.8)
    _label(
        ax,
        x="gossip rounds (200 ms) since the new record",
        y="fraction of nodes holding it",
        title="Convergence of a new record (fanout 3)",
    )
    _save(plt, fig, "discovery-convergence.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r, colour in zip(results, colours, strict=False):
        for trial, curve in enumerate(r.dead_curves):
            label = f"n={r.n} (suspicion min {r.suspicion_min:.1f} s)" if not trial else None
            ax.plot([t for t, _ in curve], [f for _, f in curve], color=colour, label=label)
    ax.axvline(DETECTION_GOAL, color="grey", linestyle="--", label=f"{DETECTION_GOAL:g} s goal")
    _label(
        ax,
        x="seconds since the node stopped",
        y="fraction of live nodes holding it DEAD",
        title="Failure detection",
    )
    _save(plt, fig, "discovery-detection.png")

    fig, (ax, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    sizes = [r.n for r in results]
    ax.plot(sizes, [r.bytes_per_node_s for r in results], marker="o", label="steady, total")
    kinds = sorted({k for r in results for k in r.bytes_by_type})
    for kind in kinds:
        ax.plot(
            sizes,
            [r.bytes_by_type.get(kind, 0.0) for r in results],
            marker=".",
            linestyle=":",
            label=f"steady, {kind}",
        )
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    _label(
        ax,
        x="nodes",
        y="bytes sent per node per second",
        title="Steady state: bytes sent per node per second",
    )
    base = results[0]
    right.plot(sizes, [r.change_bytes_per_node for r in results], marker="o", label="measured")
    reference = [
        base.change_bytes_per_node * r.retransmit_limit / base.retransmit_limit for r in results
    ]
    right.plot(sizes, reference, linestyle="--", label=f"{base.n}-node figure x retransmit limit")
    right.set_xscale("log")
    right.set_ylim(bottom=0)
    _label(
        right,
        x="nodes",
        y="bytes sent per node",
        title="Spreading one change (a record or a death) to all",
    )
    _save(plt, fig, "discovery-traffic.png")


def _label(ax, *, x: str, y: str, title: str) -> None:
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def _save(plt, fig, name: str) -> None:
    fig.tight_layout()
    fig.savefig(DOCS / name, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
