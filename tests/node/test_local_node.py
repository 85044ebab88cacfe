"""The launcher of local nodes (apps/node/network.py) says at once when a node's process ended,
while it waits for the node to become healthy and while it watches a running network."""

from __future__ import annotations

import subprocess
import sys

import pytest

from apps.node.network import DEMO_NODES, LocalNode, NetworkError, free_port, watch_network


def test_a_node_whose_process_ended_is_reported_at_once_with_its_logs(tmp_path):
    node = LocalNode(DEMO_NODES[0], tmp_path, port=free_port(), gossip_port=free_port())
    (node.var_dir / "web-worker-beat-gossip.log").write_text("gossip | address already in use\n")
    node.processes.append(subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"]))
    node.processes[0].wait()

    # "stopped", not "did not become healthy": the deadline was not waited out.
    with pytest.raises(NetworkError, match="node a stopped") as stopped:
        node.wait_until_healthy(60)

    assert "address already in use" in str(stopped.value)


def test_a_running_network_is_watched_until_a_node_stops(tmp_path):
    node = LocalNode(DEMO_NODES[1], tmp_path, port=free_port(), gossip_port=free_port())
    node.processes.append(subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"]))

    with pytest.raises(NetworkError, match="node b stopped"):
        watch_network([node])
