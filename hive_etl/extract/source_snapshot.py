"""The extract stage for the database: snapshot it, check it, take stock of its drift."""

from __future__ import annotations

import sqlite3

from ..context import RunContext
from ..schema import source_spec
from ..sqlite_files import table_names
from ..transform.table_plan import q
from .sqlite_snapshot import open_snapshot, take_snapshot


def source_stat(ctx: RunContext) -> tuple:
    """What must not change about the source during a run: the file, and its -wal."""
    stat = ctx.source.stat()
    wal = ctx.source.with_name(ctx.source.name + "-wal")
    wal_stat = (wal.stat().st_size, wal.stat().st_mtime_ns) if wal.exists() else None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino, wal_stat)


def inventory(conn: sqlite3.Connection) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Columns and primary-key columns of every table, as PRAGMA table_info reports them."""
    columns, keys = {}, {}
    for table in table_names(conn):
        info = conn.execute(f"PRAGMA table_info({q(table)})").fetchall()
        columns[table] = [row[1] for row in info]
        keys[table] = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
    return columns, keys


def extract_source(ctx: RunContext) -> None:
    ctx.source_stat = source_stat(ctx)
    ctx.snapshot_uri = take_snapshot(ctx.source, ctx.work_dir)
    conn = open_snapshot(ctx.snapshot_uri, ctx.source)
    try:
        ctx.source_columns, ctx.source_keys = inventory(conn)
    finally:
        conn.close()
    expected = source_spec()["tables"]
    for table, columns in ctx.source_columns.items():
        if table in expected:
            missing = [c["name"] for c in expected[table]["columns"] if c["name"] not in columns]
            ctx.drift["missing_columns"].extend(f"{table}.{c}" for c in missing)
    ctx.drift["missing_tables"] = sorted(set(expected) - set(ctx.source_columns))
