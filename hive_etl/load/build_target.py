"""The build database: a new file beside the target, where the whole migration happens.

It lives in a work folder next to the target (same file system, so the final rename is
atomic), is tuned for bulk loading (no journal, no fsync: it is thrown away unless complete
and checked), starts as a fresh v13 database with the app's seeded rows, and has the source
snapshot attached as `src`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from ..context import RunContext
from ..errors import BadInput
from ..schema import create_fresh_target, migration_rows
from ..sqlite_files import read_header, table_names
from ..transform import values
from .tables import row_count


def make_work_dir(ctx: RunContext) -> Path:
    """The work folder: beside the target (same file system, for the final rename), or for a
    dry run, which must leave the user's folders alone, in the system's temporary folder."""
    if ctx.dry_run:
        ctx.work_dir = Path(tempfile.mkdtemp(prefix="hive-etl-dry-run-"))
        return ctx.work_dir
    folder = ctx.target.parent
    if not folder.is_dir():
        raise BadInput(f"target {ctx.target}: folder {folder} does not exist")
    stamp = ctx.now.strftime("%Y%m%dT%H%M%SZ")
    try:
        work = folder / f".hive-etl-{stamp}-{os.getpid()}"
        work.mkdir()
    except OSError as exc:
        raise BadInput(f"target {ctx.target}: cannot write in {folder} ({exc.strerror})") from None
    ctx.work_dir = work
    return work


def check_target(ctx: RunContext) -> None:
    """Refuse a target this stage cannot build over (merging is not supported yet)."""
    if ctx.target == ctx.source or not ctx.target.exists():
        return
    read_header(ctx.target, "target")
    conn = sqlite3.connect(f"file:{ctx.target.as_posix()}?mode=ro", uri=True)
    try:
        rows = migration_rows(conn)
        tables = table_names(conn)
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"target {ctx.target}: cannot be read as SQLite ({exc})") from None
    finally:
        conn.close()
    if rows is not None:
        newest = max((v for v, _ in rows), default=0)
        raise BadInput(
            f"target {ctx.target}: an existing Rust-era database (schema version {newest}); merging into a "
            "database the Rust app already uses is not supported yet: choose a new --target path"
        )
    raise BadInput(
        f"target {ctx.target}: already exists and is not a Rust-era database ({len(tables)} tables); "
        "expected a new path or the source itself"
    )


def open_build(ctx: RunContext) -> sqlite3.Connection:
    """Create the build file with the fresh v13 schema and seeds, attach the snapshot."""
    ctx.build_path = ctx.work_dir / "build.db"
    conn = sqlite3.connect(ctx.build_path, isolation_level=None)
    # foreign_keys stay OFF while loading: the loader checks every key itself (and v13's
    # conversations table names a parent table that no longer exists, which would refuse
    # every write); PRAGMA foreign_key_check proves the result afterwards. Sorts and
    # materialised selects spill to temp files, so memory does not grow with table size.
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "foreign_keys = OFF", "temp_store = FILE",
                   "cache_size = -65536"):
        conn.execute(f"PRAGMA {pragma}")
    values.register(conn)
    create_fresh_target(conn, ctx.now)
    if conn.in_transaction:
        conn.execute("COMMIT")
    conn.execute("ATTACH DATABASE ? AS src", (str(ctx.snapshot_path),))
    ctx.conn = conn
    ctx.target_rows_before = {t: row_count(conn, "main", t) for t in table_names(conn) if t != "schema_migrations"}
    conn.execute("BEGIN")  # every load stage runs in this one transaction, committed before the indexes
    return conn


def remove_work_dir(ctx: RunContext) -> None:
    if ctx.conn is not None:
        ctx.conn.close()
        ctx.conn = None
    if ctx.work_dir is not None and ctx.work_dir.exists():
        shutil.rmtree(ctx.work_dir, ignore_errors=True)
