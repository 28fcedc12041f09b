"""Build a Rust-era (schema version 13) database: tables, indexes, seeded rows, migration records.

None of these functions commits an open transaction of its own accord, except that
create_tables runs its DDL with executescript and create_indexes commits before its first
index: both leave no transaction open.
"""

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ..transform.values import format_utc
from .spec import target_spec

PLACEHOLDER = "<time of creation>"

_HERE = Path(__file__).parent


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _run_script(conn: sqlite3.Connection, filename: str) -> None:
    conn.executescript((_HERE / filename).read_text(encoding="utf-8"))


def create_tables(conn: sqlite3.Connection) -> None:
    """Create the 34 tables and schema_migrations (no explicit indexes)."""
    _run_script(conn, "target_v13_tables.sql")


def index_statements() -> list[str]:
    """The 94 CREATE INDEX statements, one per line of target_v13_indexes.sql."""
    text = (_HERE / "target_v13_indexes.sql").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.startswith("CREATE")]


def index_table(statement: str) -> str:
    """The table a CREATE INDEX statement indexes."""
    return statement.split(" ON ", 1)[1].split(" ", 1)[0]


def index_name(statement: str) -> str:
    """The name a CREATE INDEX statement gives its index."""
    return statement.split(" ON ", 1)[0].split()[-1]


def missing_indexes(conn: sqlite3.Connection, tables: set[str] | None = None) -> list[str]:
    """The CREATE INDEX statements (of `tables` only, when given) whose index is not built yet."""
    built = {name for (name,) in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'index'")}
    return [s for s in index_statements() if index_name(s) not in built and (tables is None or index_table(s) in tables)]


def create_indexes(conn: sqlite3.Connection, progress: Callable[[int, str], None] | None = None,
                   statements: list[str] | None = None) -> None:
    """Create the explicit indexes not built yet (`statements`, when the caller has listed them
    with missing_indexes), one statement at a time; run after bulk loading.
    `progress(done, table)` is told after each one."""
    if statements is None:
        statements = missing_indexes(conn)
    if conn.in_transaction:
        conn.execute("COMMIT")
    for done, statement in enumerate(statements, 1):
        conn.execute(statement)
        if progress is not None:
            progress(done, index_table(statement))


def _utc(when: datetime) -> datetime:
    """A naive datetime is taken to be UTC already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def format_timestamp(when: datetime) -> str:
    """RFC3339 UTC with milliseconds: YYYY-MM-DDTHH:MM:SS.sssZ (the tool's one form)."""
    return format_utc(_utc(when))


def seed_fresh_rows(conn: sqlite3.Connection, now: datetime) -> None:
    """Insert the rows the Rust app seeds into a fresh database, stamped with `now`.

    A placeholder in an INTEGER column (openrouter_models.created_at) becomes epoch
    seconds; in any other column the text form of format_timestamp.
    """
    spec = target_spec()
    as_text, as_epoch = format_timestamp(now), int(_utc(now).timestamp())
    for table, rows in spec["fresh_database_rows"].items():
        types = {c["name"]: c["type"] for c in spec["tables"][table]["columns"]}
        for row in rows:
            values = [
                (as_epoch if types[column] == "INTEGER" else as_text) if value == PLACEHOLDER else value
                for column, value in row.items()
            ]
            columns = ", ".join(_quote(c) for c in row)
            marks = ", ".join("?" for _ in row)
            conn.execute(f"INSERT INTO {_quote(table)} ({columns}) VALUES ({marks})", values)


def record_migrations(conn: sqlite3.Connection, now: datetime) -> None:
    """Insert schema_migrations rows 1..13 with the spec's names, applied at `now`."""
    applied_at = format_timestamp(now)
    conn.executemany(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        [(version, name, applied_at) for version, name in target_spec()["migration_tracking"]["versions"]],
    )


def create_fresh_target(conn: sqlite3.Connection, now: datetime) -> None:
    """What the Rust app leaves in a new database: tables, seeded rows, migrations (no indexes)."""
    create_tables(conn)
    seed_fresh_rows(conn, now)
    record_migrations(conn, now)
