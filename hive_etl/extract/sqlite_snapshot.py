"""A consistent, read-only view of the TypeScript-era database that never changes it.

The app may be running (WAL mode, a writer holding transactions), so the source is never
opened read-write. What the loader attaches as `src` depends on what lies beside the file:

- `-wal` and `-shm` present (the app is, or was, running in WAL mode): a read-only
  connection takes one read transaction and SQLite's online backup copies that snapshot
  into the work folder. Both files already exist, so the read-only connection creates
  nothing. (Reading the live file instead would miss writes that only reach the -wal.)
- a `-journal` beside a rollback-mode file (a crash left a hot journal): the file and the
  journal are copied under a shared lock; SQLite rolls the journal back on the copy.
- otherwise nothing is copied: a rollback-mode file is attached read-only and the load's
  single transaction holds its shared lock from the first read to the last (writers wait);
  a WAL-mode file with no `-wal` has no connection anywhere and is attached immutable
  (opening it otherwise would create -wal/-shm files and leave them behind).
In every case the source's size, mtime, inode and -wal are compared before and after the
run (hive_etl/checks/post_load.py), and a change fails the run.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from ..errors import BadInput
from ..sqlite_files import file_uri, read_header, table_names

# Tables that make a database recognisably the Hive AI TypeScript-era store.
HIVE_MARKER_TABLES = {"conversations", "messages", "openrouter_models", "users"}


def _readonly(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(file_uri(path, "mode=ro"), uri=True, isolation_level=None, timeout=10)


def take_snapshot(source: Path, work_dir: Path) -> str:
    """The URI of a consistent view of `source` to attach; copies into `work_dir` only when needed."""
    header = read_header(source, "source")
    wal = source.with_name(source.name + "-wal")
    shm = source.with_name(source.name + "-shm")
    journal = source.with_name(source.name + "-journal")
    copy = work_dir / "snapshot.db"
    try:
        if wal.exists() and shm.exists():
            conn = _readonly(source)
            try:
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                target = sqlite3.connect(copy)
                try:
                    conn.backup(target)
                finally:
                    target.close()
                conn.execute("COMMIT")
            finally:
                conn.close()
            return file_uri(copy)
        if not header["wal"] and journal.exists():
            conn = _readonly(source)
            try:
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                shutil.copyfile(source, copy)
                shutil.copyfile(journal, copy.with_name(copy.name + "-journal"))
                conn.execute("COMMIT")
            finally:
                conn.close()
            return file_uri(copy)
        if header["wal"] and wal.exists():  # a -wal without its -shm: recover it on a copy
            shutil.copyfile(source, copy)
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
            return file_uri(copy)
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"source {source}: cannot be read as SQLite ({exc})") from None
    except OSError as exc:
        raise BadInput(f"source {source}: cannot be copied ({exc.strerror})") from None
    return file_uri(source, "immutable=1" if header["wal"] else "mode=ro")


def open_snapshot(uri: str, source: Path) -> sqlite3.Connection:
    """Open the view read-only and check it is a TypeScript-era Hive AI database (whether it
    is intact is quick_check's answer: source_snapshot.source_quick_check)."""
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10)
        tables = set(table_names(conn))
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"source {source}: cannot be read as SQLite ({exc})") from None
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
