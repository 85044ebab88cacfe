"""Row-level storage of logs: bulk inserts of blocks and nodes, and node lookups by index.

PostgreSQL gets COPY (an order of magnitude faster than INSERT for batches); other databases
(SQLite for the embedded default) get executemany. Callers hold the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection

from .hypercore.crypto import Node
from .models import Block, TreeNode


def insert_blocks(log_id: int, first_index: int, blocks: Sequence[bytes]) -> None:
    rows = ((log_id, first_index + i, block) for i, block in enumerate(blocks))
    _insert(Block._meta.db_table, ("log_id", "index", "data"), rows)


def insert_nodes(log_id: int, nodes: Iterable[Node]) -> None:
    rows = ((log_id, n.index, n.size, n.hash) for n in nodes)
    _insert(TreeNode._meta.db_table, ("log_id", "index", "size", "hash"), rows)


def _insert(table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            # Table and column names come from the models, never from input.
            sql = f"INSERT INTO {table} ({quoted}) VALUES ({marks})"  # noqa: S608
            cursor.executemany(sql, list(rows))


def nodes_by_index(log_id: int, indexes: Iterable[int]) -> dict[int, Node]:
    wanted = sorted(set(indexes))
    if not wanted:
        return {}
    rows = TreeNode.objects.filter(log_id=log_id, index__in=wanted).values_list(
        "index", "size", "hash"
    )
    return {index: Node(index, size, bytes(hash_)) for index, size, hash_ in rows}


def blocks_in_range(log_id: int, start: int, end: int) -> dict[int, bytes]:
    rows = Block.objects.filter(log_id=log_id, index__gte=start, index__lt=end).values_list(
        "index", "data"
    )
    return {index: bytes(data) for index, data in rows}
