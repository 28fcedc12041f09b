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
from ..schema import SCHEMA_VERSION, create_fresh_target, diff_migrations, diff_tables, introspect, migration_rows, target_spec
from ..sqlite_files import PAGE_SIZE, file_uri, in_use_by_another_process, open_readonly, quick_check, read_header, table_names
from ..transform import values
from ..extract.legacy_json import find_json_sources as legacy_json_sources
from . import legacy_json
from .tables import row_count

SPARE_BYTES = 16 << 20


def make_work_dir(ctx: RunContext) -> Path:
    """The work folder: beside the target (same file system, for the final rename), or for a
    dry run, which must leave the user's folders alone, in the system's temporary folder."""
    if ctx.dry_run:
        ctx.work_dir = Path(tempfile.mkdtemp(prefix="hive-etl-dry-run-"))
        return ctx.work_dir
    folder = ctx.target.parent
    if not folder.is_dir():
        raise BadInput(f"target {ctx.target}: folder {folder} does not exist")
    remove_stale_work_dirs(folder)
    stamp = ctx.now.strftime("%Y%m%dT%H%M%SZ")
    try:
        work = folder / f"{WORK_DIR_PREFIX}{stamp}-{os.getpid()}"
        work.mkdir()
    except OSError as exc:
        raise BadInput(f"target {ctx.target}: cannot write in {folder} ({exc.strerror})") from None
    ctx.work_dir = work
    return work


WORK_DIR_PREFIX = ".hive-etl-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_work_dirs(folder: Path) -> None:
    """Work folders left by a run that was killed (its process is gone) are removed."""
    for work in folder.glob(f"{WORK_DIR_PREFIX}*-*"):
        pid = work.name.rsplit("-", 1)[-1]
        if work.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(work, ignore_errors=True)


def _refuse_if_in_use(path: Path, role: str) -> None:
    if in_use_by_another_process(path):
        raise BadInput(f"{role} {path}: in use by another program (is the Hive AI app open?); close it and run again")


def check_target(ctx: RunContext) -> None:
    """Decide what the target is: new, the source itself, or a Rust-era database to merge into.

    Anything else is refused: a file that is not a SQLite database, a SQLite database of
    another kind, a Rust-era schema newer than version 13 or not matching the spec (named
    difference), a damaged file, a database another program has open.
    """
    if not ctx.target.exists():
        return
    if ctx.target == ctx.source:
        if not ctx.dry_run:
            _refuse_if_in_use(ctx.target, "source")
        return
    read_header(ctx.target, "target")
    if not ctx.dry_run:
        _refuse_if_in_use(ctx.target, "target")
    try:
        conn = open_readonly(ctx.target)
        try:
            rows = migration_rows(conn)
            tables = table_names(conn)
            diffs = [] if rows is None else diff_tables(introspect(conn), target_spec()["tables"])
            if rows is not None:
                quick_check(conn, "target", ctx.target)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"target {ctx.target}: cannot be read as SQLite ({exc})") from None
    if rows is None:
        raise BadInput(
            f"target {ctx.target}: already exists and is not a Rust-era database ({len(tables)} tables); "
            "expected a new path, the source itself, or a Rust-era hive-ai.db to merge into"
        )
    newest = max((v for v, _ in rows), default=0)
    if newest > SCHEMA_VERSION:
        raise BadInput(f"target {ctx.target}: schema version {newest} is newer than {SCHEMA_VERSION}, "
                       f"the version this tool writes; use a hive-etl that knows version {newest}")
    diffs += diff_migrations(rows, target_spec()["migration_tracking"]["versions"])
    if diffs:
        more = f" (and {len(diffs) - 1} more differences)" if len(diffs) > 1 else ""
        raise BadInput(f"target {ctx.target}: does not match the Rust-era schema version {SCHEMA_VERSION}: {diffs[0]}{more}")
    ctx.merge = True


def check_free_space(ctx: RunContext) -> None:
    """Refuse, before writing anything, when the work folder cannot hold the snapshot, the
    new database, the legacy JSON files' staged records (no larger than the files: a heavy
    usage file of 335 MB stages into 252 MB) and (where a hard link is impossible) a copy
    of the original."""
    folder = ctx.work_dir.parent
    source = ctx.source.stat().st_size
    target = ctx.target.stat().st_size if ctx.target.exists() else 0
    staged = sum(path.stat().st_size for path in legacy_json_sources(ctx.home).values())
    needed = 2 * source + 2 * target + staged + SPARE_BYTES
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise BadInput(f"target folder {folder}: not enough free disk space (about {needed >> 20} MB needed for the "
                       f"snapshot, the new database, the legacy JSON records and the backup; {free >> 20} MB free)")


def open_build(ctx: RunContext) -> sqlite3.Connection:
    """Create the build file, attach the snapshot, begin the load transaction.

    A new target starts as a fresh v13 database with the app's seeded rows; merging starts
    from a consistent copy of the existing target.
    """
    ctx.build_path = ctx.work_dir / "build.db"
    if ctx.merge:
        _copy_target(ctx.target, ctx.build_path)
    conn = sqlite3.connect(file_uri(ctx.build_path), uri=True, isolation_level=None)  # uri: ATTACH takes one
    # foreign_keys stay OFF while loading: the loader checks every key itself (and v13's
    # conversations table names a parent table that no longer exists, which would refuse
    # every write); the target suite's fk: expectations prove the result afterwards. Sorts and
    # materialised selects spill to temp files, so memory does not grow with table size.
    for pragma in (f"page_size = {PAGE_SIZE}", "journal_mode = OFF", "synchronous = OFF", "foreign_keys = OFF",
                   "temp_store = FILE", "cache_size = -32768"):
        conn.execute(f"PRAGMA {pragma}")
    values.register(conn)
    if not ctx.merge:
        create_fresh_target(conn, ctx.now)
        if conn.in_transaction:
            conn.execute("COMMIT")
    conn.execute("ATTACH DATABASE ? AS src", (ctx.snapshot_uri,))   # json.db is attached once the usage file is staged
    ctx.conn = conn
    legacy_json.prepare(ctx)
    ctx.target_rows_before = {t: row_count(conn, "main", t) for t in table_names(conn) if t != "schema_migrations"}
    conn.execute("BEGIN")  # every load stage runs in this one transaction, committed before the indexes
    return conn


def open_to_readers(ctx: RunContext) -> None:
    """Commit the build and switch it to WAL, the journal mode it ends in (load/swap.py), so
    another process can read the committed rows while this connection goes on writing: the
    target suite's child runs beside the last index builds. Whatever is written from here on
    goes through the WAL, which finalise_build checkpoints back into the file before the swap."""
    conn = ctx.conn
    if conn.in_transaction:
        conn.execute("COMMIT")
    use_wal(conn)
    # The first read after the switch creates -wal and -shm, which then stay while this
    # connection is open: a reader that finds no -wal would take the file for one nobody
    # writes (sqlite_files.wants_immutable) and read it without its WAL.
    conn.execute("SELECT count(*) FROM main.sqlite_master").fetchone()


def use_wal(conn: sqlite3.Connection) -> None:
    """The build file (`main` of `conn`) in WAL mode, or an error."""
    mode = conn.execute("PRAGMA main.journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        raise RuntimeError(f"build file refused WAL journal mode ({mode})")


def _copy_target(target: Path, build: Path) -> None:
    source = open_readonly(target)
    try:
        copy = sqlite3.connect(build)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()


def remove_work_dir(ctx: RunContext) -> None:
    if ctx.conn is not None:
        ctx.conn.close()
        ctx.conn = None
    if ctx.work_dir is not None and ctx.work_dir.exists():
        shutil.rmtree(ctx.work_dir, ignore_errors=True)
