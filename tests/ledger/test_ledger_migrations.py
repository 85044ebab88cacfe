"""A node that stored tree nodes in their own table keeps every node when it upgrades (and when
it goes back)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.ledger.hypercore.tree import TreeBatch

BEFORE = [("ledger", "0001_initial")]
AFTER = [("ledger", "0002_block_records")]


@pytest.fixture
def executor(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    executor.loader.build_graph()
    yield executor
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def _old_log(apps, blocks: list[bytes]) -> TreeBatch:
    tree = TreeBatch([], 0, 0)
    tree.append_all(blocks)
    log = apps.get_model("ledger", "Log").objects.create(
        book="projects",
        key=b"k" * 32,
        discovery_key=b"d" * 32,
        public_key=b"p" * 32,
        sealed_secret_key=b"s",
        tree_hash=tree.tree_hash(),
        length=len(blocks),
    )
    apps.get_model("ledger", "Block").objects.bulk_create(
        apps.get_model("ledger", "Block")(log=log, index=i, data=b) for i, b in enumerate(blocks)
    )
    apps.get_model("ledger", "TreeNode").objects.bulk_create(
        apps.get_model("ledger", "TreeNode")(log=log, index=n.index, size=n.size, hash=n.hash)
        for n in tree.nodes
    )
    return tree


def test_tree_nodes_move_into_the_records_of_their_blocks_and_back(executor):
    blocks = [f"project {n}".encode() for n in range(11)]
    tree = _old_log(executor.loader.project_state(BEFORE).apps, blocks)

    executor.migrate(AFTER)
    new_apps = executor.loader.project_state(AFTER).apps
    records = new_apps.get_model("ledger", "Block").objects.order_by("index")
    assert [bytes(r) for r in records.values_list("nodes", flat=True)] == tree.records

    executor.loader.build_graph()
    executor.migrate(BEFORE)
    old_nodes = executor.loader.project_state(BEFORE).apps.get_model("ledger", "TreeNode")
    restored = old_nodes.objects.order_by("index").values_list("index", "size", "hash")
    assert [(i, s, bytes(h)) for i, s, h in restored] == sorted(tree.nodes)
