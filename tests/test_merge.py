"""Merging into a Rust-era database the user already uses, and re-running a migration.

The target is built with the project's own v13 DDL and seeded like the Rust app does, then
given the user's Rust-era life: conversations, a profile of its own, an edited seeded
profile, extra catalog models, autoincrement rows whose numbers collide with the source's.
"""

import hashlib
import json
import shutil
import sqlite3
from datetime import datetime, timezone

import pyarrow.parquet as pq
import pytest

from conftest import SAMPLES, SOURCE_DDL, make_install, run_cli
from hive_etl.schema import create_fresh_target, create_indexes

RUST_ERA_LIFE = """
INSERT INTO users (id, email, tier, subscription_tier, updated_at) VALUES ('rust-user', 'new@example.com', 'FREE', 'free', '2026-01-01 00:00:00');
INSERT INTO conversations (id, user_id, total_cost, input_tokens, output_tokens, created_at, updated_at)
    VALUES ('rust-c1', 'rust-user', 0.75, 10, 20, '2026-02-01 09:00:00', '2026-02-01 09:00:00');
INSERT INTO messages (id, conversation_id, role, content, model_used) VALUES ('rust-m1', 'rust-c1', 'user', 'hello from rust', 'openai/gpt-4o');
INSERT INTO usage_records (id, user_id, conversation_id, action_type, cost, tokens_input, tokens_output, model_used, timestamp)
    VALUES ('rust-u1', 'rust-user', 'rust-c1', 'model_call', 0.75, 10, 20, 'openai/gpt-4o', '2026-02-01 09:00:00');
INSERT INTO activity_log (id, event_type, conversation_id, created_at) VALUES
    (1, 'query_start', 'rust-c1', '2026-02-01 09:00:00'), (2, 'query_complete', 'rust-c1', '2026-02-01 09:00:05');
INSERT INTO openrouter_providers (id, name, display_name, last_updated) VALUES ('cohere', 'cohere', 'Cohere', '2026-01-01T00:00:00.000Z');
INSERT INTO openrouter_models (internal_id, openrouter_id, name, provider_id, provider_name, created_at, last_updated) VALUES
    (14, 'openai/gpt-4o-mini', 'GPT-4o mini (rust)', 'openai', 'openai', 1767225600, '2026-01-01T00:00:00.000Z'),
    (15, 'cohere/command-r7b', 'Command R7B', 'cohere', 'cohere', 1767225600, '2026-01-01T00:00:00.000Z');
INSERT INTO consensus_profiles (id, profile_name, generator_model, refiner_model, validator_model, curator_model, updated_at)
    VALUES ('rust-only', 'Made in Rust', 'openai/gpt-4o', 'openai/gpt-4o', 'openai/gpt-4o', 'openai/gpt-4o', '2026-01-01 00:00:00');
UPDATE consensus_profiles SET profile_name = 'Lightning (edited in Rust)', updated_at = '2099-01-01 00:00:00' WHERE id = 'lightning-fast';
"""


def rust_era_target(path, life=RUST_ERA_LIFE):
    conn = sqlite3.connect(path)
    create_fresh_target(conn, datetime(2026, 1, 1, tzinfo=timezone.utc))
    create_indexes(conn)
    conn.executescript(life)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.commit()
    conn.close()


def table_checksums(path):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    sums = {}
    for table in tables:
        digest = hashlib.sha256()
        for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
            digest.update(repr(row).encode())
        sums[table] = digest.hexdigest()
    conn.close()
    return sums


def migrate(home, target, report):
    result = run_cli("migrate", "--home", str(home), "--target", str(target), "--report-dir", str(report))
    assert result.exit_code == 0, result.stderr + result.output
    return json.loads((report / "report.json").read_text())


@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("merge")
    target = tmp / "hive-ai.db"
    rust_era_target(target)
    report = migrate(SAMPLES["typescript"][0], target, tmp / "report")
    conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    yield report, conn, tmp
    conn.close()


def test_merge_keeps_the_targets_rows_and_adds_the_sources(merged):
    report, conn, _ = merged
    assert conn.execute("SELECT content FROM messages WHERE id = 'rust-m1'").fetchone() == ("hello from rust",)
    assert conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 1 + report["tables"]["conversations"]["inserted"]
    assert report["tables"]["conversations"]["inserted"] > 100
    assert conn.execute("SELECT profile_name FROM consensus_profiles WHERE id = 'rust-only'").fetchone() == ("Made in Rust",)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA page_size").fetchone() == (4096,)   # the existing target's layout, kept
    assert all(check["ok"] for check in report["checks"]), report["checks"]
    for name, t in report["tables"].items():
        assert t["read"] == t["inserted"] + t["merged"] + t["duplicates"] + t["quarantined"], name


def test_merge_matches_the_targets_real_catalog_not_only_the_seeded_rows(merged):
    report, conn, _ = merged
    assert conn.execute("SELECT internal_id FROM openrouter_models WHERE openrouter_id = 'openai/gpt-4o-mini'").fetchone() == (14,)
    assert conn.execute("SELECT openrouter_id FROM openrouter_models WHERE internal_id = 15").fetchone() == ("cohere/command-r7b",)
    mini = [m for m in report["models"] if m["kind"] == "catalog" and m["openrouter_id"] == "openai/gpt-4o-mini"]
    assert mini and all(m["internal_id"] == 14 for m in mini)
    new_ids = [m["internal_id"] for m in report["models"] if m["resolution"].split(" ")[0] in ("renumbered", "sha1-text", "placeholder")]
    assert not set(new_ids) & {14, 15}


def test_autoincrement_rows_of_the_source_never_take_the_targets_numbers(merged):
    report, conn, _ = merged
    assert conn.execute("SELECT event_type FROM activity_log WHERE id IN (1, 2) ORDER BY id").fetchall() == [
        ("query_start",), ("query_complete",)]
    assert conn.execute("SELECT count(*) FROM activity_log").fetchone()[0] == 2 + report["tables"]["activity_log"]["inserted"]


def test_conflicts_keep_the_newer_side_and_are_listed_with_both_versions(merged):
    report, conn, tmp = merged
    assert conn.execute("SELECT profile_name FROM consensus_profiles WHERE id = 'lightning-fast'").fetchone() == (
        "Lightning (edited in Rust)",)
    [conflict] = [c for c in report["conflicts"] if c["table"] == "consensus_profiles" and c["key"] == {"id": "lightning-fast"}]
    assert conflict["kept"] == "target"
    assert conflict["target"]["profile_name"] == "Lightning (edited in Rust)" and conflict["source"]["profile_name"] != conflict["target"]["profile_name"]
    import pyarrow.parquet as pq
    archived = [a for a in pq.read_table(tmp / "report" / "archive" / "consensus_profiles.parquet").to_pylist() if a["column"] == "(row)"]
    assert {a["reason"] for a in archived if json.loads(a["source_pk"]) == {"id": "lightning-fast"}} == {
        "conflict: source version, not loaded", "conflict: target version, kept"}


def test_newer_source_row_replaces_an_older_target_row(tmp_path):
    home = make_install(tmp_path / "home", """
        INSERT INTO settings (key, value, updated_at) VALUES ('theme', 'dark', '2025-06-01 00:00:00'), ('lang', 'fr', '2020-01-01 00:00:00');
    """)
    target = tmp_path / "rust.db"
    rust_era_target(target, "INSERT INTO settings (key, value, updated_at) VALUES ('theme', 'light', '2025-01-01 00:00:00'), "
                            "('lang', 'de', '2020-01-01 00:00:00');")
    report = migrate(home, target, tmp_path / "report")
    conn = sqlite3.connect(target)
    assert dict(conn.execute("SELECT key, value FROM settings")) == {"theme": "dark", "lang": "de"}   # tie keeps the target
    conn.close()
    assert report["tables"]["settings"]["merged"] == 2
    assert sorted((c["key"]["key"], c["kept"]) for c in report["conflicts"]) == [("lang", "target"), ("theme", "source")]


def test_a_unique_value_is_ranked_over_every_source_row_when_the_target_holds_some(tmp_path):
    """Two source users share an email; the target holds the first (older, another email).
    The second is the source's duplicate of a UNIQUE value whichever statement writes it
    (held rows are merged, the others inserted), so it is quarantined, and the first, newer,
    takes the email: ranking only the rows one statement reads would let both have it."""
    drifted = SOURCE_DDL.replace("    email TEXT UNIQUE,\n", "    email TEXT,\n", 1)   # an older app's users table
    assert drifted != SOURCE_DDL
    home = make_install(tmp_path / "home", """
        INSERT INTO users (id, email, updated_at) VALUES ('u-held', 'same@example.com', '2025-06-01 00:00:00'),
                                                         ('u-new', 'same@example.com', '2025-06-01 00:00:00');
    """, ddl=drifted)
    target = tmp_path / "rust.db"
    rust_era_target(target, "INSERT INTO users (id, email, updated_at) VALUES ('u-held', 'old@example.com', '2025-01-01 00:00:00');")
    report = migrate(home, target, tmp_path / "report")
    conn = sqlite3.connect(target)
    assert dict(conn.execute("SELECT id, email FROM users WHERE id LIKE 'u-%'")) == {"u-held": "same@example.com"}
    conn.close()
    assert (report["tables"]["users"]["merged"], report["tables"]["users"]["quarantined"]) == (1, 1)
    quarantined = pq.read_table(tmp_path / "report" / "quarantine" / "users.parquet").to_pylist()
    assert [(json.loads(q["source_pk"]), q["reason"]) for q in quarantined] == \
        [({"id": "u-new"}, "duplicate value of UNIQUE (email) in the source")]


def test_second_run_over_its_own_result_changes_nothing(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(SAMPLES["desktop"][0], home)
    target = tmp_path / "out" / "hive-ai.db"
    target.parent.mkdir()
    first = migrate(home, target, tmp_path / "r1")
    before = table_checksums(target)
    second = migrate(home, target, tmp_path / "r2")
    assert table_checksums(target) == before
    # The usage file's clashing record (a database row's id, other content) meets that row
    # again: still a conflict, the row kept, nothing changed. Every other row is a duplicate.
    clashes = [c for c in first["conflicts"] if c["table"] == "usage_records"]
    assert len(clashes) == 1 and clashes[0]["kept"] == "target"
    for name, t in second["tables"].items():
        merged = len(clashes) if name == "usage_records" else 0
        assert (t["inserted"], t["merged"], t["created"]) == (0, merged, 0), name
        assert t["duplicates"] == t["read"] - t["quarantined"] - merged, name
        assert t["quarantined"] == first["tables"][name]["quarantined"], name
    assert [(c["table"], c["key"], c["kept"]) for c in second["conflicts"]] == \
        [(c["table"], c["key"], c["kept"]) for c in clashes]


def test_target_that_differs_from_the_v13_schema_is_refused_naming_the_difference(tmp_path):
    home = make_install(tmp_path / "home")
    target = tmp_path / "rust.db"
    rust_era_target(target, "ALTER TABLE users ADD COLUMN nickname TEXT;")
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    result = run_cli("migrate", "--home", str(home), "--target", str(target), "--report-dir", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "does not match the Rust-era schema version 13" in result.stderr and "users.nickname" in result.stderr
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert not (tmp_path / "r").exists()
