"""Facts about SQLite files read from their bytes, before SQLite itself opens them.

Used on both sides: to refuse what is not a SQLite database (or a truncated one) with a
clear message, and to see whether a database is in WAL mode.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import struct
from pathlib import Path
from urllib.parse import quote

from .errors import BadInput

MAGIC = b"SQLite format 3\x00"


def read_header(path: Path, role: str) -> dict:
    """Page size, page count and journal mode from the 100-byte header; BadInput if not SQLite."""
    if not path.exists():
        raise BadInput(f"{role} {path}: no such file")
    if not path.is_file():
        raise BadInput(f"{role} {path}: expected a SQLite database file, found a directory or device")
    try:
        with open(path, "rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise BadInput(f"{role} {path}: cannot be read ({exc.strerror})") from None
    if len(header) < 100 or not header.startswith(MAGIC):
        raise BadInput(f"{role} {path}: not a SQLite database (expected the 'SQLite format 3' header)")
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    page_count, change_counter, valid_for = (
        struct.unpack(">I", header[28:32])[0],
        struct.unpack(">I", header[24:28])[0],
        struct.unpack(">I", header[92:96])[0],
    )
    size = path.stat().st_size
    if page_size < 512 or size % page_size:
        raise BadInput(f"{role} {path}: truncated or damaged SQLite file ({size} bytes is not a whole number of {page_size}-byte pages)")
    if page_count and change_counter == valid_for and size < page_count * page_size:
        raise BadInput(f"{role} {path}: truncated SQLite file ({size} bytes, header says {page_count * page_size})")
    return {"page_size": page_size, "wal": header[18] == 2 and header[19] == 2, "size": size}


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def table_names(conn: sqlite3.Connection, schema: str = "main") -> list[str]:
    """User tables of an open database, internal sqlite_* tables left out."""
    rows = conn.execute(
        f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [name for (name,) in rows]


# quick_check also reports rows that break a CHECK or NOT NULL constraint, and values whose
# storage class the column's affinity could not have produced (left by an app that rewrote
# its DDL in place). In a source that is dirty data, normalised or quarantined row by row
# by the loader, not damage to the file.
DATA_FINDINGS = ("CHECK constraint failed in ", "NULL value in ", "TEXT value in ", "NUMERIC value in ",
                 "INTEGER value in ", "REAL value in ", "BLOB value in ")


def quick_check(conn: sqlite3.Connection, role: str, path: Path, schema: str = "main", strict: bool = True) -> list[str]:
    """PRAGMA quick_check; BadInput naming the file when SQLite finds damage.

    With strict=False, constraint findings (DATA_FINDINGS) are returned instead of refused.
    """
    try:
        result = [row[0] for row in conn.execute(f"PRAGMA {schema}.quick_check")]
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"{role} {path}: damaged SQLite database ({exc})") from None
    if result == ["ok"]:
        return []
    damage = [r for r in result if strict or not r.startswith(DATA_FINDINGS)]
    if damage:
        raise BadInput(f"{role} {path}: damaged SQLite database (quick_check: {_findings(damage)})")
    return result


def _findings(rows: list[str], shown: int = 3) -> str:
    """quick_check's findings on one line: one row may hold many lines, under a
    '*** in database main ***' heading."""
    lines = [line.strip() for row in rows for line in row.splitlines()
             if line.strip() and not line.startswith("*** in database")]
    return "; ".join(lines[:shown]) + (f"; ... ({len(lines)} findings)" if len(lines) > shown else "")


# Page size of the files this tool creates (the new database, the JSON staging). SQLite's
# default is 4096; with 8192 a heavy install migrates about 6% faster (29.6 -> 27.7 s: fewer
# pages to write, index and check) and the floor copy as much (17.7 -> 16.5 s;
# benchmarks/migrate_vs_floor.py gives the floor the same). Any SQLite reads any page size; a
# merge keeps the existing target's.
PAGE_SIZE = 8192


def file_uri(path: Path, mode: str | None = None) -> str:
    """A SQLite URI for `path` (quoted, so `?`, `#` and `%` in names stay names)."""
    return f"file:{quote(Path(path).as_posix())}" + (f"?{mode}" if mode else "")


def wants_immutable(path: Path) -> bool:
    """Whether a read-only open must be `immutable=1`: a WAL database with no -wal file has
    nobody writing to it, and a plain read-only open would create -wal/-shm files and leave
    them behind. With -wal (and -shm) present, or in rollback mode, `mode=ro` reads safely."""
    wal = path.with_name(path.name + "-wal")
    return not wal.exists() and bool(read_header(path, "database")["wal"])


def open_readonly(path: Path) -> sqlite3.Connection:
    """A connection that can neither change the file nor leave -wal/-shm files behind."""
    mode = "immutable=1" if wants_immutable(path) else "mode=ro"
    return sqlite3.connect(file_uri(path, mode), uri=True, isolation_level=None, timeout=5)


# Byte ranges SQLite locks (os_unix.c): PENDING, RESERVED and SHARED bytes of the database
# file, and the WAL-index lock slots plus the "DMS" byte every connection holds in -shm.
_DB_LOCK_BYTES = (0x40000000, 512)
_SHM_LOCK_BYTES = (120, 9)
_FLOCK = "hhqqixxxx"


def _lock_held(path: Path, start: int, length: int) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        probe = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, start, length, 0)
        return struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, probe))[0] != fcntl.F_UNLCK
    except OSError:
        return False
    finally:
        os.close(fd)


def in_use_by_another_process(path: Path) -> bool:
    """True when another process holds a SQLite lock on the database (an open app in WAL
    mode always does; in rollback mode, one in the middle of a transaction). Only asks the
    kernel (F_GETLK): nothing is opened for writing and no lock is taken."""
    shm = path.with_name(path.name + "-shm")
    return _lock_held(path, *_DB_LOCK_BYTES) or (shm.exists() and _lock_held(shm, *_SHM_LOCK_BYTES))
