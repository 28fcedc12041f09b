"""Take a consistent, private copy of the TypeScript-era database without changing it.

The app may be running (WAL mode, a writer holding transactions), so the source is never
opened read-write and never ATTACHed directly. How the copy is taken depends on what lies
beside the file:

- `-wal` and `-shm` present (the app is, or was, running in WAL mode): a read-only
  connection takes one read transaction and SQLite's online backup copies that snapshot.
  Both files already exist, so the read-only connection creates nothing.
- rollback journal mode: a read-only connection holds a SHARED lock (writers wait) while
  the file, and a hot `-journal` if there is one, are copied byte for byte; SQLite rolls
  the journal back on the private copy.
- WAL mode with no `-wal` file: no connection is open anywhere, so the bytes are copied.
  (Opening it, even read-only, would create `-wal`/`-shm` files and leave them behind.)

Every later stage reads the copy, which is checked with `PRAGMA quick_check` first.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from ..errors import BadInput
from ..sqlite_files import quick_check, read_header, table_names

# Tables that make a database recognisably the Hive AI TypeScript-era store.
HIVE_MARKER_TABLES = {"conversations", "messages", "openrouter_models", "users"}


def _readonly(path: Path) -> sqlite3.Connection:
    uri = f"file:{path.as_posix()}?mode=ro"
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10)


def take_snapshot(source: Path, dest: Path) -> None:
    """Copy `source` consistently into the new file `dest` (which must not exist)."""
    header = read_header(source, "source")
    wal = source.with_name(source.name + "-wal")
    shm = source.with_name(source.name + "-shm")
    journal = source.with_name(source.name + "-journal")
    try:
        if wal.exists() and shm.exists():
            conn = _readonly(source)
            try:
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                target = sqlite3.connect(dest)
                try:
                    conn.backup(target)
                finally:
                    target.close()
                conn.execute("COMMIT")
            finally:
                conn.close()
        elif not header["wal"]:
            conn = _readonly(source)
            try:
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                shutil.copyfile(source, dest)
                if journal.exists():
                    shutil.copyfile(journal, dest.with_name(dest.name + "-journal"))
                conn.execute("COMMIT")
            finally:
                conn.close()
        else:
            shutil.copyfile(source, dest)
            if wal.exists():
                shutil.copyfile(wal, dest.with_name(dest.name + "-wal"))
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"source {source}: cannot be read as SQLite ({exc})") from None
    except OSError as exc:
        raise BadInput(f"source {source}: cannot be copied ({exc.strerror})") from None


def open_snapshot(snapshot: Path, source: Path) -> sqlite3.Connection:
    """Open the private copy, check it is intact and a TypeScript-era Hive AI database."""
    conn = sqlite3.connect(snapshot, isolation_level=None)
    quick_check(conn, "source", source, strict=False)
    tables = set(table_names(conn))
    if "schema_migrations" in tables:
        conn.close()
        raise BadInput(
            f"source {source}: already a Rust-era database (it has a schema_migrations table); "
            "expected a TypeScript-era hive-ai.db"
        )
    missing = HIVE_MARKER_TABLES - tables
    if missing:
        conn.close()
        raise BadInput(
            f"source {source}: not a Hive AI database (expected tables {', '.join(sorted(HIVE_MARKER_TABLES))}; "
            f"missing {', '.join(sorted(missing))})"
        )
    return conn
