"""The extract stage for the database: snapshot it, check it, take stock of its drift.

The source's quick_check reads every page of the file: 0.5 s for a heavy user's 1.3 GB
database in the page cache, 10 s and more from disk, which is where a migration finds it.
It runs on a connection of its own, in a thread (SQLite releases the GIL), beside the table
loads, which read the same pages; `checks.source_quick_check` awaits it. A damaged source
is still refused with quick_check's one-line error: a stage that meets the damage first
(an SQLite error while the check is pending) gives way to it (hive_etl/pipeline.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..beside import Beside, thread_connection
from ..context import RunContext
from ..schema import source_spec
from ..sqlite_files import quick_check, table_names
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


def unique_keys(conn: sqlite3.Connection) -> dict[str, list[list[str]]]:
    """Per table, the column sets the source itself holds unique, as SQLite compares them
    byte for byte: its UNIQUE and primary-key indexes that are not partial, on columns (not
    expressions), every column in the BINARY collation."""
    found: dict[str, list[list[str]]] = {}
    for table in table_names(conn):
        for index in conn.execute(f"PRAGMA index_list({q(table)})").fetchall():
            name, unique, partial = index[1], index[2], index[4]
            if not unique or partial:
                continue
            # index_xinfo: (seqno, cid, name, desc, coll, key); cid -2 is an expression
            parts = [r for r in conn.execute(f"PRAGMA index_xinfo({q(name)})") if r[5]]
            if parts and all(r[1] >= 0 and r[4].upper() == "BINARY" for r in parts):
                found.setdefault(table, []).append([r[2] for r in parts])
    return found


def source_quick_check(uri: str, source: Path) -> Beside:
    """PRAGMA quick_check of the source view in a thread; `result()` waits and raises
    BadInput when SQLite finds damage, `stop()` interrupts it."""
    conn = thread_connection(uri)
    return Beside("source-quick-check", lambda: quick_check(conn, "source", source, strict=False), conn)


def extract_source(ctx: RunContext) -> None:
    ctx.source_stat = source_stat(ctx)
    ctx.snapshot_uri = take_snapshot(ctx.source, ctx.work_dir)
    conn = open_snapshot(ctx.snapshot_uri, ctx.source)
    ctx.background["source_quick_check"] = source_quick_check(ctx.snapshot_uri, ctx.source)
    try:
        ctx.source_columns, ctx.source_keys = inventory(conn)
        ctx.source_unique = unique_keys(conn)
    finally:
        conn.close()
    expected = source_spec()["tables"]
    for table, columns in ctx.source_columns.items():
        if table in expected:
            missing = [c["name"] for c in expected[table]["columns"] if c["name"] not in columns]
            ctx.drift["missing_columns"].extend(f"{table}.{c}" for c in missing)
    ctx.drift["missing_tables"] = sorted(set(expected) - set(ctx.source_columns))


def await_source_quick_check(ctx: RunContext) -> None:
    """The source's quick_check, started with the snapshot: damage stops the run (exit 2)."""
    job = ctx.background.pop("source_quick_check", None)
    if job is not None:
        job.result()
