"""Row-level storage of logs: bulk inserts of blocks and nodes, and node lookups by index.

PostgreSQL gets COPY (an order of magnitude faster than INSERT for batches); other databases
(SQLite for the embedded default) get executemany. Callers hold the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection

from .hypercore.crypto import Node
from .models import Block, Log, SignedHead, TreeNode

# Below this many rows one multi-row INSERT beats COPY's extra round trips.
COPY_THRESHOLD_ROWS = 60


LOG_HEAD_COLUMNS = ("length", "byte_length", "fork", "tree_hash", "roots", "sealed_secret_key")
BLOCK_COLUMNS = ("log_id", "index", "data")
NODE_COLUMNS = ("log_id", "index", "size", "hash")
HEAD_COLUMNS = ("log_id", "length", "fork", "tree_hash", "signature", "signed_at")


def lock_head(log_id: int) -> dict:
    """Lock the log row until the transaction ends and return its head (one round trip)."""
    columns = ", ".join(_q(c) for c in LOG_HEAD_COLUMNS)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {_q(Log._meta.db_table)} WHERE id = %s{lock}", [log_id]
        )
        row = cursor.fetchone()
    if row is None:
        raise Log.DoesNotExist(log_id)
    return {
        c: bytes(v) if isinstance(v, memoryview) else v
        for c, v in zip(LOG_HEAD_COLUMNS, row, strict=True)
    }


def write_append(
    *,
    log_id: int,
    first_index: int,
    blocks: Sequence[bytes],
    nodes: Sequence[Node],
    head: tuple,
    byte_length: int,
    roots: bytes,
    signed_at,
) -> None:
    """Store an appended batch: its blocks and nodes, the signed head, and the log's new head."""
    block_rows = [(log_id, first_index + i, b) for i, b in enumerate(blocks)]
    node_rows = [(log_id, n.index, n.size, n.hash) for n in nodes]
    length, fork, tree_hash, signature = head
    head_row = (log_id, length, fork, tree_hash, signature, signed_at)
    log_update = (length, byte_length, tree_hash, signature, roots, log_id)
    if connection.vendor == "postgresql":
        _write_postgresql(block_rows, node_rows, head_row, log_update)
    else:
        with connection.cursor() as cursor:
            cursor.executemany(_insert_sql(Block, BLOCK_COLUMNS, 1), block_rows)
            cursor.executemany(_insert_sql(TreeNode, NODE_COLUMNS, 1), node_rows)
            cursor.execute(_insert_sql(SignedHead, HEAD_COLUMNS, 1), head_row)
            cursor.execute(_LOG_UPDATE, log_update)


_LOG_UPDATE = (
    f"UPDATE {Log._meta.db_table} SET length = %s, byte_length = %s, tree_hash = %s, "
    "signature = %s, roots = %s WHERE id = %s"
)


def _write_postgresql(block_rows, node_rows, head_row, log_update) -> None:
    with connection.cursor() as cursor:
        if len(block_rows) + len(node_rows) > COPY_THRESHOLD_ROWS:
            _copy(cursor, Block, BLOCK_COLUMNS, block_rows)
            _copy(cursor, TreeNode, NODE_COLUMNS, node_rows)
            block_rows, node_rows = [], []
        # Everything else in one statement: one round trip for a small append.
        parts, params = [], []
        for model, columns, rows in (
            (Block, BLOCK_COLUMNS, block_rows),
            (TreeNode, NODE_COLUMNS, node_rows),
            (SignedHead, HEAD_COLUMNS, [head_row]),
        ):
            if rows:
                parts.append(f"w{len(parts)} AS ({_insert_sql(model, columns, len(rows))})")
                params.extend(value for row in rows for value in row)
        cursor.execute(f"WITH {', '.join(parts)} {_LOG_UPDATE}", [*params, *log_update])


def _insert_sql(model, columns: tuple[str, ...], row_count: int) -> str:
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    names = ", ".join(_q(c) for c in columns)
    # Table and column names come from the models, never from input.
    return (
        f"INSERT INTO {_q(model._meta.db_table)} ({names}) VALUES {', '.join([marks] * row_count)}"
    )


def _copy(cursor, model, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    names = ", ".join(_q(c) for c in columns)
    # One text-format payload instead of a Python call per row: integers as digits, bytea as
    # hex (COPY unescapes the doubled backslash to bytea's \x prefix); nothing else needs escaping.
    payload = "".join(
        "\t".join(str(v) if isinstance(v, int) else "\\\\x" + bytes(v).hex() for v in row) + "\n"
        for row in rows
    )
    with cursor.copy(f"COPY {_q(model._meta.db_table)} ({names}) FROM STDIN") as copy:
        copy.write(payload.encode())


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


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
