"""The Rust-era target schema: the DDL reproduces the spec facts, the seeds, the migration
records, and the differences diff_tables / diff_migrations report."""

import copy
import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from hive_etl.schema import (
    SCHEMA_VERSION,
    create_fresh_target,
    create_indexes,
    create_tables,
    diff_migrations,
    diff_tables,
    format_timestamp,
    introspect,
    migration_rows,
    source_spec,
    target_spec,
)
from hive_etl.schema.create import PLACEHOLDER
from hive_etl.schema.introspect import normalize_sql, parse_checks, parse_index_where

SPEC = target_spec()
TABLES = SPEC["tables"]
VERSIONS = SPEC["migration_tracking"]["versions"]
SEEDS = SPEC["fresh_database_rows"]
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "hive_etl" / "schema"
SHARED_SPEC = Path(__file__).resolve().parents[1].parent / "shared" / "spec"

NOW = datetime(2025, 3, 4, 5, 6, 7, 891234, tzinfo=timezone.utc)
NOW_TEXT = "2025-03-04T05:06:07.891Z"
NOW_EPOCH = int(NOW.timestamp())
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def built_database() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    create_tables(conn)
    create_indexes(conn)
    return conn


@pytest.fixture(scope="module")
def built():
    conn = built_database()
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def fresh():
    # Autocommit, so that PRAGMA foreign_keys takes effect and the seeds are checked by it.
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    create_fresh_target(conn, NOW)
    yield conn
    conn.close()


def table_sql(conn, table):
    return conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]


# (a) the DDL against the spec


def test_spec_shape():
    assert SCHEMA_VERSION == SPEC["schema_version"] == 13
    assert len(TABLES) == 34
    indexes = [i for t in TABLES.values() for i in t["indexes"]]
    implicit = [i for i in indexes if i["name"].startswith("sqlite_autoindex_")]
    assert (len(indexes), len(implicit)) == (120, 26)
    assert [v for v, _ in VERSIONS] == list(range(1, 14))
    assert "tables" in source_spec()


def test_built_database_has_no_differences(built):
    assert diff_tables(introspect(built), TABLES) == []


def test_introspect_returns_the_spec_exactly(built):
    assert introspect(built) == TABLES


def test_built_database_has_exactly_the_spec_tables(built):
    names = {r[0] for r in built.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names == set(TABLES) | {"schema_migrations", "sqlite_sequence"}


@pytest.mark.parametrize("table", sorted(TABLES))
def test_columns(built, table):
    found = [
        (name, type_, bool(notnull), default, pk)
        for _, name, type_, notnull, default, pk in built.execute(f'PRAGMA table_info("{table}")')
    ]
    expected = [(c["name"], c["type"], c["not_null"], c["default"], c["pk"]) for c in TABLES[table]["columns"]]
    assert found == expected


@pytest.mark.parametrize("table", sorted(TABLES))
def test_foreign_keys(built, table):
    found = [
        (r[3], r[2], r[4], r[6]) for r in built.execute(f'PRAGMA foreign_key_list("{table}")')
    ]
    expected = [(f["column"], f["ref_table"], f["ref_column"], f["on_delete"]) for f in TABLES[table]["foreign_keys"]]
    assert found == expected


@pytest.mark.parametrize("table", sorted(TABLES))
def test_checks_and_autoincrement(built, table):
    sql = table_sql(built, table)
    checks = TABLES[table]["checks"]
    assert parse_checks(sql) == checks
    assert len(re.findall(r"\bCHECK\b", sql)) == len(checks)
    for check in checks:
        assert f"check({normalize_sql(check)})" in normalize_sql(sql)
    assert ("AUTOINCREMENT" in sql.upper()) == TABLES[table]["autoincrement"]


@pytest.mark.parametrize("table", sorted(TABLES))
def test_indexes(built, table):
    found = {}
    for _, name, unique, origin, partial in built.execute(f'PRAGMA index_list("{table}")'):
        columns = [r[2] for r in built.execute(f'PRAGMA index_info("{name}")')]
        found[name] = (columns, bool(unique), bool(partial), origin != "c")
    expected = {
        i["name"]: (i["columns"], i["unique"], i["where"] is not None, i["name"].startswith("sqlite_autoindex_"))
        for i in TABLES[table]["indexes"]
    }
    assert found == expected


def test_all_120_indexes(built):
    found = {r[0] for r in built.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    expected = {i["name"] for t in TABLES.values() for i in t["indexes"]}
    assert len(found) == 120
    assert found == expected


def test_sql_files_are_split_as_documented():
    tables_sql = (SCHEMA_DIR / "target_v13_tables.sql").read_text()
    indexes_sql = (SCHEMA_DIR / "target_v13_indexes.sql").read_text()
    assert "schema version 13" in tables_sql.splitlines()[0]
    assert "CREATE INDEX" not in tables_sql.upper()
    assert len(re.findall(r"^CREATE TABLE ", tables_sql, re.M)) == 35
    assert len(re.findall(r"^CREATE (UNIQUE )?INDEX ", indexes_sql, re.M)) == 94
    assert "CREATE TABLE" not in indexes_sql.upper()


def test_tables_only_have_autoindexes():
    conn = sqlite3.connect(":memory:")
    create_tables(conn)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]
    assert len(names) == 26 and all(n.startswith("sqlite_autoindex_") for n in names)


def test_schema_migrations_table(built):
    found = [
        (name, type_, bool(notnull), pk) for _, name, type_, notnull, _, pk in built.execute("PRAGMA table_info(schema_migrations)")
    ]
    expected = [(c["name"], c["type"], c.get("not_null", False), c.get("pk", 0)) for c in SPEC["migration_tracking"]["columns"]]
    assert found == expected


def test_spec_quirks_are_reproduced(built):
    conversations = {c["name"]: c for c in introspect(built)["conversations"]["columns"]}
    assert conversations["success_rate"]["default"] == '"100"'
    assert conversations["confidence_level"]["default"] == '"High"'
    refs = {(f["column"], f["ref_table"]) for f in introspect(built)["conversations"]["foreign_keys"]}
    assert ("consensus_profile_id", "consensus_profiles_backup") in refs
    assert built.execute("SELECT 1 FROM sqlite_master WHERE name = 'consensus_profiles_backup'").fetchone() is None
    date = next(c for c in introspect(built)["daily_usage_summary"]["columns"] if c["name"] == "date")
    assert date["type"] == "DATE"


def test_conversations_cannot_be_written_with_foreign_keys_enforced():
    # The dangling reference to consensus_profiles_backup makes SQLite refuse any write to
    # conversations while PRAGMA foreign_keys is ON: a loader must write with it OFF.
    conn = sqlite3.connect(":memory:", isolation_level=None)
    create_tables(conn)
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.OperationalError, match="consensus_profiles_backup"):
        conn.execute("INSERT INTO conversations (id) VALUES ('c1')")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO conversations (id) VALUES ('c1')")
    conn.execute("INSERT INTO conversations (id, consensus_profile_id) VALUES ('c2', 'p')")
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == [("conversations", 2, "consensus_profiles_backup", 0)]


# (b) seeds


def test_seeded_models(fresh):
    rows = fresh.execute("SELECT internal_id, openrouter_id FROM openrouter_models ORDER BY internal_id").fetchall()
    assert rows == [(m["internal_id"], m["openrouter_id"]) for m in SEEDS["openrouter_models"]]
    assert [r[0] for r in rows] == list(range(1, 14))
    stamps = fresh.execute(
        "SELECT DISTINCT created_at, typeof(created_at), last_updated FROM openrouter_models"
    ).fetchall()
    assert stamps == [(NOW_EPOCH, "integer", NOW_TEXT)]


def test_seeded_profiles_settings_providers(fresh):
    profiles = [r[0] for r in fresh.execute("SELECT id FROM consensus_profiles ORDER BY rowid")]
    assert profiles == [p["id"] for p in SEEDS["consensus_profiles"]] and len(profiles) == 10
    assert fresh.execute("SELECT key, value, updated_at FROM consensus_settings").fetchall() == [
        ("active_profile_id", "lightning-fast", NOW_TEXT)
    ]
    providers = [r[0] for r in fresh.execute("SELECT id FROM openrouter_providers ORDER BY rowid")]
    assert providers == ["anthropic", "openai", "google", "meta-llama", "mistralai"]


@pytest.mark.parametrize("table", sorted(SEEDS))
def test_seeded_rows_equal_the_spec(fresh, table):
    fresh.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in fresh.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    finally:
        fresh.row_factory = None
    expected = []
    for row in SEEDS[table]:
        row = dict(row)
        for column, value in row.items():
            if value == PLACEHOLDER:
                row[column] = NOW_EPOCH if (table, column) == ("openrouter_models", "created_at") else NOW_TEXT
        expected.append(row)
    assert [{k: r[k] for k in e} for r, e in zip(rows, expected)] == expected
    assert len(rows) == len(expected)


def test_no_placeholder_left(fresh):
    for (table,) in fresh.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for row in fresh.execute(f'SELECT * FROM "{table}"'):
            assert not any(isinstance(v, str) and "<time" in v for v in row), (table, row)


def test_format_timestamp():
    assert format_timestamp(NOW) == NOW_TEXT
    assert RFC3339_MS.match(format_timestamp(datetime.now(timezone.utc)))
    assert format_timestamp(datetime(2025, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))) == "2025-01-01T00:00:00.000Z"
    assert format_timestamp(datetime(2025, 1, 1, 0, 0, 0, 999)) == "2025-01-01T00:00:00.000Z"


# (c) schema_migrations


def test_migrations_recorded(fresh):
    rows = migration_rows(fresh)
    assert rows == [tuple(v) for v in VERSIONS]
    assert [v for v, _ in rows] == list(range(1, 14))
    assert rows[5] == (6, "fix_consensus_profiles_schema")
    assert diff_migrations(rows, VERSIONS) == []
    stamps = {r[0] for r in fresh.execute("SELECT applied_at FROM schema_migrations")}
    assert stamps == {NOW_TEXT}


def test_migration_rows_without_table():
    assert migration_rows(sqlite3.connect(":memory:")) is None
    assert diff_migrations(None, VERSIONS) == ["missing table schema_migrations"]


def test_diff_migrations_names_each_problem():
    rows = [tuple(v) for v in VERSIONS if v[0] != 9]
    rows[5] = (6, "fix_profiles")
    rows.append((14, "future"))
    assert diff_migrations(rows, VERSIONS) == [
        "schema_migrations: version 6 name expected 'fix_consensus_profiles_schema', found 'fix_profiles'",
        "schema_migrations: missing version 9 ('unknown')",
        "schema_migrations: unexpected version 14 ('future')",
    ]


# (d) differences in hand-broken databases


def test_diff_dropped_column():
    conn = built_database()
    conn.execute("ALTER TABLE users DROP COLUMN last_d1_sync")
    assert diff_tables(introspect(conn), TABLES) == ["users.last_d1_sync: missing column"]


def test_diff_changed_default():
    conn = built_database()
    conn.executescript(
        """
        DROP TABLE users;
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT UNIQUE,
            license_key TEXT,
            tier TEXT DEFAULT 'FREE',
            created_at TEXT DEFAULT CURRENT_TIMESTAMP,
            updated_at TEXT DEFAULT CURRENT_TIMESTAMP,
            subscription_tier TEXT,
            last_d1_sync TEXT
        );
        """
    )
    assert diff_tables(introspect(conn), TABLES) == ["users.subscription_tier: default expected 'free', found NULL"]


def test_diff_missing_index():
    conn = built_database()
    conn.execute("DROP INDEX idx_usage_user")
    assert diff_tables(introspect(conn), TABLES) == ["missing index idx_usage_user on usage_records"]


def test_diff_extra_table_and_index_and_missing_table():
    conn = built_database()
    conn.executescript(
        """
        CREATE TABLE model_aliases (alias TEXT PRIMARY KEY, openrouter_id TEXT NOT NULL);
        CREATE INDEX idx_foo ON users (tier);
        DROP TABLE licenses;
        """
    )
    assert diff_tables(introspect(conn), TABLES) == [
        "missing table licenses",
        "unexpected index idx_foo on users",
        "unexpected table model_aliases",
    ]


def test_diff_foreign_key_and_check():
    conn = built_database()
    conn.executescript(
        """
        DROP TABLE conversation_threads;
        CREATE TABLE conversation_threads (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            child_conversation_id TEXT NOT NULL,
            parent_conversation_id TEXT NOT NULL,
            thread_type TEXT,
            reference_text TEXT,
            confidence_score REAL DEFAULT 1.0,
            created_at TEXT DEFAULT CURRENT_TIMESTAMP,
            CHECK (thread_type IN ('follow_up', 'clarification')),
            FOREIGN KEY (child_conversation_id) REFERENCES conversations (id) ON DELETE CASCADE
        );
        CREATE INDEX idx_conversation_threads_child ON conversation_threads (child_conversation_id);
        CREATE INDEX idx_conversation_threads_created ON conversation_threads (created_at);
        CREATE INDEX idx_conversation_threads_parent ON conversation_threads (parent_conversation_id);
        CREATE INDEX idx_conversation_threads_type ON conversation_threads (thread_type, created_at);
        """
    )
    assert diff_tables(introspect(conn), TABLES) == [
        "conversation_threads: missing foreign key parent_conversation_id -> conversations.id ON DELETE NO ACTION",
        "conversation_threads: foreign key child_conversation_id -> conversations.id: "
        "on_delete expected NO ACTION, found CASCADE",
        "conversation_threads: missing check "
        "(thread_type IN ('follow_up', 'clarification', 'list_reference', 'continuation'))",
        "conversation_threads: unexpected check (thread_type IN ('follow_up', 'clarification'))",
        "index idx_conversation_threads_type on conversation_threads: "
        "columns expected [thread_type], found [thread_type, created_at]",
    ]


def test_diff_column_facts_and_order():
    actual = copy.deepcopy(TABLES)
    columns = actual["users"]["columns"]
    columns[0], columns[1] = columns[1], columns[0]
    columns[2]["type"] = "INTEGER"
    columns[3]["not_null"] = True
    actual["users"]["columns"].append({"name": "title", "type": "TEXT", "not_null": False, "default": None, "pk": 0})
    actual["licenses"]["autoincrement"] = False
    assert diff_tables(actual, TABLES) == [
        "licenses: autoincrement expected True, found False",
        "users.license_key: type expected TEXT, found INTEGER",
        "users.tier: not_null expected False, found True",
        "users.title: unexpected column",
        "users: column order expected [id, email, license_key, tier, created_at, updated_at, subscription_tier, "
        "last_d1_sync], found [email, id, license_key, tier, created_at, updated_at, subscription_tier, last_d1_sync]",
    ]


def test_diff_checks_ignore_whitespace():
    actual = copy.deepcopy(TABLES)
    actual["activity_log"]["checks"][1] = "stage  IN\n ( 'generator','refiner',\t'validator', 'curator' )"
    assert diff_tables(actual, TABLES) == []


# (e) integrity of the fresh database


def test_fresh_database_integrity(fresh):
    assert fresh.execute("PRAGMA foreign_key_check").fetchall() == []
    assert fresh.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    create_indexes(fresh)
    assert fresh.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert diff_tables(introspect(fresh), TABLES) == []


# the parsers introspect relies on


def test_parse_checks():
    sql = """CREATE TABLE t (
        a TEXT DEFAULT 'CHECK (x)' CHECK (a IN ('(', ')')),  -- CHECK (not this)
        b INTEGER /* CHECK (nor this) */ CONSTRAINT b_pos check(b > (0 + 1)),
        CHECK (length(a)   >  0)
    )"""
    assert parse_checks(sql) == ["a IN ('(', ')')", "b > (0 + 1)", "length(a) > 0"]


def test_partial_index_where():
    assert parse_index_where("CREATE INDEX i ON t (a) WHERE a IS NOT NULL") == "a IS NOT NULL"
    assert parse_index_where("CREATE INDEX i ON t (a)") is None
    conn = sqlite3.connect(":memory:")
    conn.executescript("CREATE TABLE t (a TEXT, b TEXT); CREATE UNIQUE INDEX i ON t (a, b) WHERE b IN ('x', 'y');")
    assert introspect(conn)["t"]["indexes"] == [
        {"name": "i", "columns": ["a", "b"], "unique": True, "where": "b IN ('x', 'y')"}
    ]


# (f) the shipped JSON copies


def test_shipped_json_equals_shared_spec():
    if not SHARED_SPEC.is_dir():
        pytest.skip(f"{SHARED_SPEC} is absent")
    for name in ("target_schema.json", "source_schema.json"):
        shipped = json.loads((SCHEMA_DIR / name).read_text())
        shared = json.loads((SHARED_SPEC / name).read_text())
        assert shipped == shared, name
