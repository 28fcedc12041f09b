"""Put the checked build file in place of the target, keeping the original as a backup.

Order of operations, each step safe to interrupt:
1. the build file is in WAL mode (the journal mode the Rust app expects; it switched when the
   target suite started reading it, `open_to_readers`), its WAL is checkpointed into the file
   (refused if any other connection still holds it), and it is closed and fsynced;
2. when the target exists (the default: the source path itself), it is hard-linked to a
   timestamped backup beside it (a byte-for-byte copy, verified by sha256, where links are
   not possible), and a leftover `-wal` of the original is moved to the backup's name;
3. one `rename()` puts the build file at the target path, and the folder is fsynced.
Until step 3 the target path holds the original; after it, the new database.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..beside import Beside
from ..context import RunContext
from ..errors import BadInput
from ..sqlite_files import file_sha256
from .build_target import use_wal

BACKUP_MARK = ".backup-"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def start_flush(ctx: RunContext) -> None:
    """Once the indexes are built, the pages written so far go to the disk in a thread, beside
    the post-load checks: the swap's own fsync then writes only what the checkpoint adds."""
    path = ctx.build_path
    ctx.background["flush"] = Beside("flush", lambda: _fsync(path))


def finalise_build(ctx: RunContext) -> None:
    """WAL mode, every page in the file itself (a checkpoint of whatever the WAL holds, with
    no other connection left open), closed and fsynced: the file alone is the database."""
    flush = ctx.background.pop("flush", None)
    if flush is not None:
        flush.result()
    conn = ctx.conn
    conn.execute("DETACH DATABASE src")
    use_wal(conn)
    busy, frames, copied = conn.execute("PRAGMA main.wal_checkpoint(TRUNCATE)").fetchone()
    if busy or frames != copied:
        raise RuntimeError(f"build file: its WAL could not be checkpointed ({copied} of {frames} frames copied)")
    conn.close()
    ctx.conn = None
    _fsync(ctx.build_path)


def backup_path_for(target: Path, ctx: RunContext) -> Path:
    """<target>.backup-<UTC time>, with -2, -3... when a run in the same second left one."""
    stem = f"{target.name}{BACKUP_MARK}{ctx.now.strftime('%Y%m%dT%H%M%SZ')}"
    candidate, n = target.with_name(stem), 1
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{stem}-{n}")
    return candidate


def make_backup(original: Path, backup: Path) -> None:
    """`backup` becomes the same bytes as `original` (a hard link, else a verified copy)."""
    if backup.exists():
        raise BadInput(f"backup {backup}: already exists; not overwriting it")
    try:
        os.link(original, backup)
    except OSError:
        shutil.copy2(original, backup)
        _fsync(backup)
        if file_sha256(backup) != file_sha256(original):
            backup.unlink()
            raise BadInput(f"backup {backup}: copy does not match {original}; nothing was changed")
    wal = original.with_name(original.name + "-wal")
    if wal.exists():
        os.replace(wal, backup.with_name(backup.name + "-wal"))
    shm = original.with_name(original.name + "-shm")
    if shm.exists():
        shm.unlink()


def swap_into_place(ctx: RunContext) -> None:
    target = ctx.target
    if target.exists():
        ctx.backup_path = backup_path_for(target, ctx)
        make_backup(target, ctx.backup_path)
    os.replace(ctx.build_path, target)
    _fsync(target.parent)
    ctx.swapped = True


def latest_backup(database: Path) -> Path | None:
    candidates = sorted(
        p for p in database.parent.glob(f"{database.name}{BACKUP_MARK}*")
        if not p.name.endswith(("-wal", "-shm"))
    )
    return candidates[-1] if candidates else None


def restore_backup(database: Path, backup: Path, stamp: str) -> Path | None:
    """Put `backup` back at `database`; the database it replaces is kept beside it.

    Returns where the replaced database was kept (None if there was none).
    """
    if not backup.is_file():
        raise BadInput(f"backup {backup}: no such file")
    with open(backup, "rb") as handle:
        if not handle.read(16).startswith(b"SQLite format 3"):
            raise BadInput(f"backup {backup}: not a SQLite database")
    kept = None
    if database.exists():
        kept = database.with_name(f"{database.name}.migrated-{stamp}")
        if kept.exists():
            raise BadInput(f"restore: {kept} already exists; not overwriting it")
        os.link(database, kept)
        for suffix in ("-wal", "-shm"):
            side = database.with_name(database.name + suffix)
            if side.exists():
                os.replace(side, kept.with_name(kept.name + suffix))
    staging = database.with_name(f".{database.name}.restoring")
    shutil.copy2(backup, staging)
    _fsync(staging)
    os.replace(staging, database)
    wal = backup.with_name(backup.name + "-wal")
    if wal.exists():
        shutil.copy2(wal, database.with_name(database.name + "-wal"))
    _fsync(database.parent)
    return kept
