"""The table rules, model-id rules and nothing-lost rules, end to end on hand-made installs.

Each test builds a tiny TypeScript-era database holding exactly the case it is about,
runs `hive-etl migrate` into a new target, and reads the result back.
"""

import json
import sqlite3

import pyarrow.parquet as pq
import pytest

from conftest import SOURCE_DDL, make_install
from hive_etl.load.tables import checked_by_plan

BASE = """
INSERT INTO users (id, email, tier) VALUES ('u1', 'ada@example.com', 'Premium');
INSERT INTO openrouter_providers (id, name, display_name, last_updated) VALUES
    ('openai', 'openai', 'OpenAI', '2024-01-01 00:00:00'), ('cohere', 'cohere', 'Cohere', '2024-01-01 00:00:00');
INSERT INTO conversations (id, user_id, total_cost, input_tokens, output_tokens, created_at)
    VALUES ('c1', 'u1', 0.5, 100, 200, '2024-03-01 10:00:00');
"""


def rows(run, sql, *params):
    with run.db() as conn:
        return conn.execute(sql, params).fetchall()


def parquet(run, kind, table):
    return pq.read_table(run.report_dir / kind / f"{table}.parquet").to_pylist()


@pytest.fixture
def migrated(tmp_path, migrate):
    def _run(sql):
        run = migrate(make_install(tmp_path / "home", BASE + sql))
        assert run.exit_code == 0, run.stderr + run.output
        return run
    return _run


# --- reconciliation -------------------------------------------------------------------------

def test_every_table_reconciles_and_the_report_has_the_contract_keys(migrated):
    run = migrated("INSERT INTO messages (id, conversation_id, role, content) VALUES ('m1', 'c1', 'user', 'hi'), ('m2', 'gone', 'user', 'x');")
    report = run.report
    for name, t in report["tables"].items():
        assert t["read"] == t["inserted"] + t["merged"] + t["duplicates"] + t["quarantined"], name
    assert report["tables"]["messages"] == {"read": 2, "inserted": 1, "merged": 0, "duplicates": 0, "quarantined": 1, "created": 0}
    assert set(report["totals"]) == {"cost", "tokens_input", "tokens_output"}
    assert report["outcome"] == "migrated"
    assert all(c["ok"] for c in report["checks"])


def test_a_sum_of_the_source_scans_the_source_alone_only_where_the_value_is_the_rows_own():
    """load_conserving_totals sums the source in one plain scan when the written value depends
    on the row alone; a foreign key that may be nulled as an orphan depends on its parent."""
    from hive_etl.schema import target_spec
    from hive_etl.transform.table_plan import build_plan

    spec = target_spec()["tables"]["usage_records"]
    columns = [c["name"] for c in spec["columns"]]
    plan = build_plan("usage_records", spec, columns, {"conversations", "users"})
    assert plan.source_value_sql("cost") == next(c.expr for c in plan.columns if c.name == "cost")
    assert "hive_real" in plan.source_value_sql("cost")          # normalised as the load writes it
    assert plan.source_value_sql("conversation_id") is None


def test_money_totals_reconcile_with_quarantined_rows(tmp_path, migrate):
    drifted = SOURCE_DDL.replace("action_type TEXT NOT NULL", "action_type TEXT")   # a build that lost the constraint
    run = migrate(make_install(tmp_path / "home", BASE + """
        INSERT INTO usage_records (id, user_id, conversation_id, action_type, cost, tokens_input, tokens_output)
        VALUES ('r1', 'u1', 'c1', 'model_call', 0.25, 10, 20),
               ('r2', 'u1', 'c1', 'model_call', '0.5', '30', 40),
               ('r3', 'u1', 'c1', NULL, 1.0, 1, 2);  -- action_type is NOT NULL in v13: quarantined
    """, ddl=drifted))
    assert run.exit_code == 0, run.stderr
    totals = run.report["totals"]
    assert totals["cost"] == {"source": 1.75, "target": 0.75, "quarantined": 1.0, "target_before": 0, "already_present": 0}
    assert totals["tokens_input"] == {"source": 41, "target": 40, "quarantined": 1, "target_before": 0, "already_present": 0}
    assert rows(run, "SELECT sum(cost), sum(tokens_output) FROM usage_records") == [(0.75, 60)]
    # Every row was written "now" (CURRENT_TIMESTAMP default), so they share one day.
    [day] = run.report["daily_cost"]
    assert (day["source"], day["target"]) == (1.75, 0.75)


# --- quarantine and archive -------------------------------------------------------------------

def test_row_with_missing_not_null_parent_is_quarantined_with_its_reason(migrated):
    run = migrated("INSERT INTO messages (id, conversation_id, role, content) VALUES ('m9', 'no-such-conv', 'user', 'lost?');")
    assert rows(run, "SELECT count(*) FROM messages") == [(0,)]
    [q] = parquet(run, "quarantine", "messages")
    assert json.loads(q["source_pk"]) == {"id": "m9"}
    assert "no-such-conv" in q["reason"] and "conversations.id" in q["reason"]
    assert json.loads(q["row_json"])["content"] == "lost?"


def test_a_value_repeated_in_a_unique_column_keeps_its_first_row(tmp_path, migrate):
    # A build whose conversation_usage lost its UNIQUE (conversation_id); v13 has it, and also
    # UNIQUE (conversation_token), a column this source lacks: always NULL, so never a clash.
    lines = SOURCE_DDL.splitlines()
    at = lines.index("CREATE TABLE conversation_usage (") + 2
    assert lines[at] == "    conversation_id TEXT NOT NULL UNIQUE,"
    lines[at] = "    conversation_id TEXT NOT NULL,"
    run = migrate(make_install(tmp_path / "home", BASE + """
        INSERT INTO conversations (id, user_id) VALUES ('c2', 'u1');
        INSERT INTO conversation_usage (id, conversation_id, user_id) VALUES (1, 'c1', 'u1'), (2, 'c1', 'u1'), (3, 'c2', 'u1');
    """, ddl="\n".join(lines)))
    assert run.exit_code == 0, run.stderr
    assert rows(run, "SELECT id, conversation_id, conversation_token FROM conversation_usage ORDER BY id") == [
        (1, "c1", None), (3, "c2", None)]
    [q] = parquet(run, "quarantine", "conversation_usage")
    assert json.loads(q["source_pk"]) == {"id": 2}
    assert q["reason"] == "duplicate value of UNIQUE (conversation_id) in the source"


def test_a_unique_key_with_a_column_the_source_lacks_takes_no_window():
    from hive_etl.schema import target_spec
    from hive_etl.transform.table_plan import build_plan

    spec = target_spec()["tables"]["conversation_usage"]
    plan = build_plan("conversation_usage", spec, ["id", "conversation_id", "user_id", "timestamp"], {"conversations", "users"})
    assert len(plan.windows) == 1 and "conversation_id" in plan.windows[0]
    plan = build_plan("conversation_usage", spec, ["id", "conversation_id", "conversation_token"], {"conversations", "users"})
    assert len(plan.windows) == 2


def test_a_unique_key_the_source_itself_holds_unique_takes_no_window():
    """Ranking rows by a key the source's own UNIQUE index keeps apart would find nothing."""
    from hive_etl.schema import target_spec
    from hive_etl.transform.table_plan import build_plan

    tables = target_spec()["tables"]
    columns = ["id", "conversation_id", "user_id", "timestamp"]
    held = build_plan("conversation_usage", tables["conversation_usage"], columns, {"conversations", "users"},
                      source_unique=[["id"], ["conversation_id"]])
    assert held.windows == [] and not any("duplicate value" in message for _, message in held.reasons)
    # an index over more columns than the key does not keep the key's values apart
    wider = build_plan("conversation_usage", tables["conversation_usage"], columns, {"conversations", "users"},
                       source_unique=[["conversation_id", "user_id"]])
    assert len(wider.windows) == 1
    # nor does one over the source value when the plan writes another (users.email may come
    # from subscription_cache.json)
    users = build_plan("users", tables["users"], ["id", "email"], set(), source_unique=[["email"]])
    assert len(users.windows) == 1 and "email" in users.windows[0]


def test_the_source_unique_keys_are_those_compared_byte_for_byte(tmp_path):
    from hive_etl.extract.source_snapshot import unique_keys

    conn = sqlite3.connect(tmp_path / "s.db")
    conn.executescript("""
        CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT UNIQUE, b TEXT, c TEXT, d TEXT, e TEXT, f TEXT);
        CREATE UNIQUE INDEX t_bc ON t (b, c);
        CREATE UNIQUE INDEX t_d_live ON t (d) WHERE d IS NOT NULL;
        CREATE UNIQUE INDEX t_e_nocase ON t (e COLLATE NOCASE);
        CREATE UNIQUE INDEX t_f_lower ON t (lower(f));
        CREATE INDEX t_f ON t (f);
        CREATE TABLE k (x TEXT, y TEXT, PRIMARY KEY (x, y));
    """)
    found = unique_keys(conn)
    assert sorted(found["t"]) == [["a"], ["b", "c"]]
    assert found["k"] == [["x", "y"]]


def test_nullable_foreign_key_to_a_missing_parent_is_nulled_and_archived(migrated):
    run = migrated("INSERT INTO activity_log (id, event_type, user_id) VALUES (1, 'export', 'ghost');")
    assert rows(run, "SELECT user_id FROM activity_log") == [(None,)]
    [a] = parquet(run, "archive", "activity_log")
    assert (a["column"], a["value"], json.loads(a["source_pk"])) == ("user_id", "ghost", {"id": 1})


def test_check_violations_are_quarantined(migrated):
    run = migrated("""
        INSERT INTO activity_log (id, event_type) VALUES (1, 'bogus'), (2, 'export');
        INSERT INTO conversation_context (conversation_id, referenced_conversation_id, context_type) VALUES ('c1', 'c1', 'vibes');
    """)
    assert rows(run, "SELECT id FROM activity_log") == [(2,)]
    assert run.report["tables"]["conversation_context"]["quarantined"] == 1
    assert "CHECK failed" in parquet(run, "quarantine", "activity_log")[0]["reason"]


def test_check_constraints_are_enforced_again_once_a_plan_has_written():
    """The table loads leave the CHECKs to their plans (which quarantine what breaks one); any
    other write on the build connection, after a load that failed too, is tested by SQLite."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE events (kind TEXT CHECK (kind IN ('start', 'stop')))")
    with pytest.raises(sqlite3.OperationalError), checked_by_plan(conn):
        conn.execute("INSERT INTO no_such_table VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed"):
        conn.execute("INSERT INTO events VALUES ('bogus')")


def test_unreadable_value_in_not_null_column_quarantines_the_row(migrated):
    run = migrated("""
        INSERT INTO performance_metrics (id, timestamp, total_duration) VALUES (1, 'yesterday', 100), (2, 1709287200000, 200);
    """)
    assert rows(run, "SELECT id, timestamp FROM performance_metrics") == [(2, "2024-03-01T10:00:00.000Z")]
    assert "'yesterday'" in parquet(run, "quarantine", "performance_metrics")[0]["reason"]


def test_unreadable_value_in_nullable_column_becomes_null_and_is_archived(migrated):
    run = migrated("INSERT INTO usage_records (id, user_id, action_type, cost) VALUES ('r1', 'u1', 'sync', 'abc');")
    assert rows(run, "SELECT cost FROM usage_records") == [(None,)]
    [a] = parquet(run, "archive", "usage_records")
    assert (a["column"], a["value"], a["value_type"]) == ("cost", "abc", "text")


def test_dropped_and_unknown_columns_and_tables_go_to_the_archive(tmp_path, migrate):
    home = make_install(tmp_path / "home", BASE + """
        ALTER TABLE conversations ADD COLUMN title TEXT;
        UPDATE conversations SET title = 'Tax questions' WHERE id = 'c1';
        CREATE TABLE model_aliases (alias TEXT PRIMARY KEY, openrouter_id TEXT);
        INSERT INTO model_aliases VALUES ('sonnet', 'anthropic/claude-3.5-sonnet');
        INSERT INTO consensus_profiles (id, profile_name, generator_model, refiner_model, validator_model, curator_model, pipeline_profile_id)
            VALUES ('mine', 'Mine', 'openai/gpt-4o', 'openai/gpt-4o', 'openai/gpt-4o', 'openai/gpt-4o', 'pp1');
    """)
    run = migrate(home)
    assert run.exit_code == 0, run.stderr
    archived = {(a["source_table"], a["column"], a["value"]) for kind in ("conversations", "model_aliases", "consensus_profiles")
                for a in parquet(run, "archive", kind)}
    assert ("conversations", "title", "Tax questions") in archived
    assert ("model_aliases", "openrouter_id", "anthropic/claude-3.5-sonnet") in archived
    assert ("consensus_profiles", "pipeline_profile_id", "pp1") in archived
    assert run.report["drift"]["extra_tables"][0]["table"] == "model_aliases"


def test_conversation_profile_link_is_archived_because_its_target_table_is_gone(migrated):
    # v13 declares conversations.consensus_profile_id -> consensus_profiles_backup, a table
    # that no longer exists: a non-NULL value can never satisfy it.
    run = migrated("UPDATE conversations SET consensus_profile_id = 'lightning-fast';")
    assert rows(run, "SELECT consensus_profile_id FROM conversations") == [(None,)]
    assert parquet(run, "archive", "conversations")[0]["value"] == "lightning-fast"


# --- table rules (section 3) ----------------------------------------------------------------

def test_subscription_tier_is_the_lower_case_tier_and_unknown_tiers_are_reported(migrated):
    run = migrated("INSERT INTO users (id, email, tier) VALUES ('u2', 'bo@example.com', 'gold'), ('u3', NULL, 'basic');")
    assert rows(run, "SELECT id, tier, subscription_tier, last_d1_sync FROM users ORDER BY id") == [
        ("u1", "PREMIUM", "premium", None), ("u2", "GOLD", "free", None), ("u3", "BASIC", "basic", None)]
    [a] = parquet(run, "archive", "users")
    assert (a["column"], a["value"]) == ("tier", "gold")


def test_user_profile_replaces_the_seeded_one_with_canonical_model_ids(migrated):
    run = migrated("""
        INSERT INTO consensus_profiles (id, profile_name, generator_model, refiner_model, validator_model, curator_model)
            VALUES ('lightning-fast', 'My Lightning', ' OpenAI/GPT-4o:nitro ', 'anthropic/claude-3-5-sonnet', 'openai/gpt-4', 'openai/gpt-4');
        INSERT INTO consensus_settings (key, value) VALUES ('active_profile_id', 'lightning-fast');
    """)
    assert rows(run, "SELECT profile_name, generator_model, refiner_model FROM consensus_profiles WHERE id = 'lightning-fast'") == [
        ("My Lightning", "openai/gpt-4o", "anthropic/claude-3.5-sonnet")]
    assert rows(run, "SELECT count(*) FROM consensus_profiles") == [(10,)]
    assert run.report["tables"]["consensus_profiles"]["merged"] == 1


def test_conversation_usage_d1_columns_start_empty(migrated):
    run = migrated("INSERT INTO conversation_usage (conversation_id, user_id, timestamp) VALUES ('c1', 'u1', '2024-03-01 10:00:00');")
    assert rows(run, "SELECT license_key, verified, conversation_token, question_hash, d1_verified_at FROM conversation_usage") == [
        (None, 0, None, None, None)]


def test_daily_usage_summary_is_derived_per_user_and_utc_date(migrated):
    run = migrated("""
        INSERT INTO conversations (id, user_id, total_cost, input_tokens, output_tokens, created_at)
            VALUES ('c2', 'u1', '0.25', 10, 20, 1709287200000),          -- 2024-03-01T10:00Z, as epoch ms
                   ('c3', 'u1', 1.0, 1, 1, '2024-03-02T01:00:00+02:00'),  -- 2024-03-01 23:00 UTC
                   ('c4', 'u1', 2.0, 5, 5, '2024-03-02 12:00:00');
        INSERT INTO performance_metrics (timestamp, conversation_id, total_duration) VALUES ('2024-03-01', 'c1', 1000), ('2024-03-01', 'c2', 3000);
    """)
    assert rows(run, "SELECT user_id, date, conversation_count, total_cost, total_tokens, average_response_time "
                     "FROM daily_usage_summary ORDER BY date") == [
        ("u1", "2024-03-01", 3, 1.75, 332, 2000.0), ("u1", "2024-03-02", 1, 2.0, 10, None)]


# --- model ids (section 4) ------------------------------------------------------------------

def test_colliding_model_ids_are_renumbered_and_every_reference_follows(migrated):
    run = migrated("""
        INSERT INTO openrouter_models (internal_id, openrouter_id, name, provider_id, provider_name, created_at, last_updated) VALUES
            (1, 'openai/gpt-4o-mini', 'GPT-4o mini', 'openai', 'openai', 1700000000000, '2024-01-01'),
            (27, 'Anthropic/Claude-3.5-Sonnet:nitro', 'Sonnet', 'openai', 'openai', 1700000000, '2024-01-01'),
            (40, 'cohere/command-r', 'Command R', 'cohere', 'cohere', '1700000000', '2024-01-01');
        INSERT INTO provider_performance (model_internal_id, provider_name) VALUES (1, 'openai'), (27, 'anthropic'), (40, 'cohere');
        INSERT INTO model_rankings (model_internal_id, ranking_source, rank_position, usage_percentage, period_start, period_end)
            VALUES (1, 'openrouter', 1, 50.0, '2024-01-01', '2024-01-31');
    """)
    catalog = dict(rows(run, "SELECT openrouter_id, internal_id FROM openrouter_models"))
    mini = catalog["openai/gpt-4o-mini"]
    assert mini not in range(1, 14)
    assert catalog["anthropic/claude-3.5-sonnet"] == 1 and catalog["cohere/command-r"] == 40
    assert rows(run, "SELECT model_internal_id FROM provider_performance ORDER BY id") == [(mini,), (1,), (40,)]
    assert rows(run, "SELECT model_internal_id FROM model_rankings") == [(mini,)]
    assert rows(run, "SELECT name, created_at FROM openrouter_models WHERE internal_id = 1") == [("Sonnet", 1700000000)]
    resolutions = {m["source"]: m["resolution"] for m in run.report["models"] if m["kind"] == "catalog"}
    assert resolutions == {"openai/gpt-4o-mini": "renumbered", "Anthropic/Claude-3.5-Sonnet:nitro": "matched (suffix :nitro)",
                           "cohere/command-r": "kept"}


def test_sha1_text_ids_and_their_references_get_integers(tmp_path, migrate):
    ddl = SOURCE_DDL.replace(
        "internal_id INTEGER PRIMARY KEY AUTOINCREMENT", "internal_id TEXT PRIMARY KEY")
    sha = "4c1d5bd0b1ad3c1b5e6ef1b6a8d3a9e1f0c2d3e4"
    home = make_install(tmp_path / "home", BASE + f"""
        INSERT INTO openrouter_models (internal_id, openrouter_id, name, provider_id, provider_name, created_at, last_updated)
            VALUES ('{sha}', 'cohere/command-r-plus', 'R+', 'cohere', 'cohere', 1700000000, '2024-01-01');
        INSERT INTO provider_performance (model_internal_id, provider_name) VALUES ('{sha}', 'cohere');
    """, ddl=ddl)
    run = migrate(home)
    assert run.exit_code == 0, run.stderr
    [(new_id,)] = rows(run, "SELECT internal_id FROM openrouter_models WHERE openrouter_id = 'cohere/command-r-plus'")
    assert isinstance(new_id, int) and new_id > 13
    assert rows(run, "SELECT model_internal_id FROM provider_performance") == [(new_id,)]


def test_dangling_pipeline_profile_ids_resolve_from_their_legacy_text(migrated):
    run = migrated("""
        INSERT INTO openrouter_models (internal_id, openrouter_id, name, provider_id, provider_name, created_at, last_updated)
            VALUES (2, 'openai/gpt-4o', 'GPT-4o', 'openai', 'openai', 1, '2024-01-01'), (4, 'openai/gpt-4', 'GPT-4', 'openai', 'openai', 1, '2024-01-01');
        INSERT INTO pipeline_profiles (id, name, generator_model_internal_id, refiner_model_internal_id,
            validator_model_internal_id, curator_model_internal_id, generator_provider, generator_model,
            refiner_provider, refiner_model, is_default)
        VALUES ('p1', 'Mine', 999, 0, 2, 4, 'anthropic', 'claude-3.5-sonnet', NULL, 'openai/gpt-4o:nitro', 'true'),
               ('p2', 'Lost', 998, 2, 2, 2, NULL, NULL, NULL, NULL, 'false');
    """)
    assert rows(run, "SELECT id, generator_model_internal_id, refiner_model_internal_id, is_default FROM pipeline_profiles") == [
        ("p1", 1, 2, 1)]
    legacy = [m for m in run.report["models"] if m["kind"] == "legacy"]
    assert {m["source"]: m["internal_id"] for m in legacy} == {
        "pipeline_profiles[p1].generator_model_internal_id = 999": 1,
        "pipeline_profiles[p1].refiner_model_internal_id = 0": 2,
        "pipeline_profiles[p2].generator_model_internal_id = 998": None}
    assert "generator_model_internal_id" in parquet(run, "quarantine", "pipeline_profiles")[0]["reason"]


def test_unknown_text_model_ids_become_inactive_catalog_rows_and_history_keeps_its_text(migrated):
    run = migrated("""
        INSERT INTO messages (id, conversation_id, role, content, model_used) VALUES
            ('m1', 'c1', 'assistant', 'a', 'x-ai/grok-beta'), ('m2', 'c1', 'assistant', 'b', 'openai/gpt-4o:nitro');
        INSERT INTO usage_records (id, action_type, model_used) VALUES ('r1', 'model_call', 'perplexity/sonar:online');
    """)
    assert rows(run, "SELECT model_used FROM messages ORDER BY id") == [("x-ai/grok-beta",), ("openai/gpt-4o:nitro",)]
    placeholders = dict(rows(run, "SELECT openrouter_id, is_active FROM openrouter_models WHERE internal_id > 13"))
    assert placeholders["x-ai/grok-beta"] == 0 and placeholders["perplexity/sonar"] == 0
    assert "openai/gpt-4o" not in placeholders
    assert rows(run, "SELECT is_active FROM openrouter_providers WHERE id = 'x-ai'") == [(0,)]
    named = {m["source"]: m["resolution"] for m in run.report["models"] if m["kind"] == "reference"}
    assert named["x-ai/grok-beta"] == "placeholder"
    assert named["openai/gpt-4o:nitro"] == "catalog (suffix :nitro)"


def test_seeded_models_keep_ids_1_to_13(migrated):
    run = migrated("INSERT INTO openrouter_models (internal_id, openrouter_id, name, provider_id, provider_name, created_at, last_updated) "
                   "VALUES (2, 'cohere/command-r', 'R', 'cohere', 'cohere', 1, '2024-01-01');")
    seeded = rows(run, "SELECT internal_id, openrouter_id FROM openrouter_models WHERE internal_id <= 13 ORDER BY 1")
    assert [i for i, _ in seeded] == list(range(1, 14))
    assert seeded[1] == (2, "openai/gpt-4o")
