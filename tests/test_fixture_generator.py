"""The fixture generator (fixtures/generate.py): deterministic output, the TypeScript-era schema
exactly as source_schema.json records it, every planted kind of dirt findable in the database
and the legacy JSON files through the ledger, the desktop variant's drift, the CLI's refusal to
overwrite, and the committed sample installs matching a regeneration."""

import hashlib
import json
import math
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLES, load_generator

ROOT = Path(__file__).resolve().parents[1]
GENERATE = ROOT / "fixtures" / "generate.py"
SOURCE_SPEC = json.loads((ROOT / "hive_etl" / "schema" / "source_schema.json").read_text())["tables"]
TARGET_SPEC = json.loads((ROOT / "hive_etl" / "schema" / "target_schema.json").read_text())

gen = load_generator()

ALLOWED_EVENTS = ('query_start', 'query_complete', 'query_error', 'model_switch', 'fallback', 'rate_limit',
                  'stage_start', 'stage_complete', 'stage_error', 'pipeline_complete', 'export', 'budget_alert',
                  'cost_alert', 'quality_alert', 'performance_alert')


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def connect(db: Path) -> sqlite3.Connection:
    # immutable: never creates -wal/-shm beside the file, even for the WAL-mode desktop variant
    return sqlite3.connect(f"file:{db}?immutable=1", uri=True)


def build(root: Path, name: str, **kw):
    home = root / name
    ledger = gen.generate_install(home, **kw)
    return home / ".hive" / "hive-ai.db", ledger


@pytest.fixture(scope="module")
def installs(tmp_path_factory):
    root = tmp_path_factory.mktemp("installs")
    return {"typescript": build(root, "ts", seed=7), "desktop": build(root, "desk", seed=11, variant="desktop")}


@pytest.fixture(scope="module", params=["typescript", "desktop"])
def install(request, installs):
    db, ledger = installs[request.param]
    con = connect(db)
    yield request.param, db, ledger, con
    con.close()


def table_facts(con, table):
    cols = [dict(name=r[1], type=r[2], not_null=bool(r[3]), default=r[4], pk=r[5])
            for r in con.execute(f"PRAGMA table_info({table})")]
    fks = [dict(column=r[3], ref_table=r[2], ref_column=r[4], on_delete=r[6])
           for r in con.execute(f"PRAGMA foreign_key_list({table})")]
    idx = {r[1]: (bool(r[2]), [c[2] for c in con.execute(f'PRAGMA index_info("{r[1]}")')])
           for r in con.execute(f"PRAGMA index_list({table})")}
    sql = con.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
    return cols, fks, idx, sql


def assert_matches_source_spec(con):
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} - {"sqlite_sequence"}
    assert tables == set(SOURCE_SPEC)
    for table, spec in SOURCE_SPEC.items():
        cols, fks, idx, sql = table_facts(con, table)
        assert cols == spec["columns"], table
        assert fks == spec["foreign_keys"], table
        assert idx == {i["name"]: (i["unique"], i["columns"]) for i in spec["indexes"]}, table
        assert ("AUTOINCREMENT" in sql) == spec["autoincrement"], table
        flat = re.sub(r"\s+", " ", sql)
        for check in spec["checks"]:
            assert re.sub(r"\s+", " ", check) in flat, (table, check)


def row(con, table, column, pk):
    pk_col = [r[1] for r in con.execute(f"PRAGMA table_info({table})") if r[5]][0]
    return con.execute(f"SELECT typeof({column}), {column} FROM {table} WHERE {pk_col} = ?", (pk,)).fetchone()


def declared(con, table, column):
    return {r[1]: (r[2], bool(r[3])) for r in con.execute(f"PRAGMA table_info({table})")}[column]


def json_files(home: Path) -> dict[str, bytes]:
    """The legacy JSON files of a home, by path relative to it."""
    return {str(p.relative_to(home)): p.read_bytes() for d in (".hive", ".hive-ai") if (home / d).is_dir()
            for p in sorted((home / d).iterdir()) if p.suffix == ".json"}


def sidecars(db: Path) -> list[str]:
    return [p.name for p in db.parent.iterdir() if p.name.startswith("hive-ai.db") and p.name != "hive-ai.db"]


# -- determinism ------------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes_and_ledger(installs, tmp_path):
    for variant, (db, ledger) in installs.items():
        seed = 7 if variant == "typescript" else 11
        again, ledger2 = build(tmp_path, variant, seed=seed, variant=variant)
        assert sha256(again) == sha256(db), variant
        assert json_files(again.parents[1]) == json_files(db.parents[1]) != {}
        assert ledger2 == ledger
        assert json.loads(json.dumps(ledger)) == ledger


def test_different_seed_gives_different_database(installs, tmp_path):
    other, ledger = build(tmp_path, "other", seed=8)
    db, first = installs["typescript"]
    assert sha256(other) != sha256(db)
    assert ledger["orphan_messages"] != first["orphan_messages"]


# -- schema ---------------------------------------------------------------------------------------------
def test_source_schema_sql_reproduces_source_schema_json():
    con = sqlite3.connect(":memory:")
    con.executescript((ROOT / "fixtures" / "source_schema.sql").read_text())
    assert_matches_source_spec(con)


def test_typescript_variant_schema_matches_source_schema_json(installs):
    db, _ = installs["typescript"]
    with connect(db) as con:
        assert_matches_source_spec(con)
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'").fetchone()[0] == 0


def test_every_table_has_rows_and_the_ledger_counts_them(install):
    variant, db, ledger, con = install
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ledger["row_counts"]}
    assert counts == ledger["row_counts"]
    assert set(SOURCE_SPEC) <= set(counts)
    assert all(n >= 3 for n in counts.values()), counts
    assert 650 <= counts["messages"] <= 750 and 110 <= counts["conversations"] <= 120
    assert counts["users"] == 4 and 40 <= counts["openrouter_models"] <= 45


# -- catalog dirt -----------------------------------------------------------------------------------------
def test_seeded_models_constant_matches_target_spec():
    seeded = {m["internal_id"]: m["openrouter_id"] for m in TARGET_SPEC["fresh_database_rows"]["openrouter_models"]}
    assert seeded == gen.SEEDED_MODELS


def test_model_ids_collide_with_the_seeded_catalog(install):
    _, _, ledger, con = install
    by_id = {int(i): r for i, r in con.execute("SELECT internal_id, openrouter_id FROM openrouter_models")
             if str(i).isdigit()}
    assert ledger["colliding_model_ids"] == list(range(1, 14))
    for iid in ledger["colliding_model_ids"]:
        assert gen.canonical_model_id(by_id[iid]) != gen.SEEDED_MODELS[iid]
    assert by_id[1] == "openai/gpt-4o-mini" and by_id[27] == "anthropic/claude-3.5-sonnet"
    under = {e["openrouter_id"]: e["seeded_internal_id"] for e in ledger["seeded_models_under_other_ids"]}
    assert under["anthropic/claude-3.5-sonnet"] == 1 and len(under) >= 8
    assert ledger["canonical_duplicate_models"]


def test_catalog_ids_need_canonicalisation(install):
    _, _, ledger, con = install
    raw = {r[0] for r in con.execute("SELECT openrouter_id FROM openrouter_models")}
    whys = set()
    for e in ledger["noncanonical_catalog_ids"]:
        assert e["openrouter_id"] in raw and gen.canonical_model_id(e["openrouter_id"]) == e["canonical"]
        whys.update(e["why"])
    assert whys == {"case_or_space", "routing_suffix", "renamed"}
    assert any(r != r.strip() for r in raw) and any(r != r.lower() for r in raw)
    assert ledger["known_renames"] == {
        "anthropic/claude-3-5-sonnet": "anthropic/claude-3.5-sonnet", "google/gemini-1.5-pro": "google/gemini-pro-1.5",
        "meta-llama/llama-3-8b": "meta-llama/llama-3-8b-instruct",
        "mistralai/mistral-7b-instruct-v0.1": "mistralai/mistral-7b-instruct",
        "openai/gpt-4-turbo-preview": "openai/gpt-4-turbo"}


def test_text_model_references_are_dirty_everywhere(install):
    _, _, ledger, con = install
    kinds = ("routing_suffixed_refs", "renamed_model_refs", "noncanonical_model_refs", "unknown_model_refs")
    for kind in kinds:
        for e in ledger[kind]:
            if e["table"] != "pipeline_profiles":
                assert row(con, e["table"], e["column"], e["pk"]) == ("text", e["value"]), e
        tables = {e["table"] for e in ledger[kind]}
        assert {"messages", "usage_records", "activity_log", "consensus_profiles"} <= tables, (kind, tables)
    suffixes = {gen.split_suffix(e["value"].strip().lower())[1] for e in ledger["routing_suffixed_refs"]}
    suffixes |= {gen.split_suffix(e["openrouter_id"].strip().lower())[1] for e in ledger["noncanonical_catalog_ids"]}
    assert set(gen.ROUTING_SUFFIXES) <= suffixes
    renamed = {gen.split_suffix(e.get("model_id", e["value"]).strip().lower())[0] for e in ledger["renamed_model_refs"]}
    assert renamed == set(ledger["known_renames"])
    assert set(ledger["distinct_unknown_model_ids"]) == {
        "x-ai/grok-beta", "perplexity/llama-3.1-sonar-large-128k-online", "liquid/lfm-40b"}
    assert "  Anthropic/Claude-3.5-Sonnet " in {e["value"] for e in ledger["noncanonical_model_refs"]}


def test_pipeline_profiles_have_dangling_and_zero_model_ids(install):
    _, _, ledger, con = install
    refs = ledger["dangling_profile_refs"]
    ids = {str(r[0]) for r in con.execute("SELECT internal_id FROM openrouter_models")}
    assert {0, 9999, 23, 24} <= {e["value"] for e in refs}
    for e in refs:
        assert row(con, "pipeline_profiles", e["column"], e["pk"])[1] == e["value"]
        assert str(e["value"]) not in ids
        stage = e["column"].split("_")[0]
        legacy = con.execute(f"SELECT {stage}_provider, {stage}_model FROM pipeline_profiles WHERE id = ?",
                             (e["pk"],)).fetchone()
        assert legacy == (e["legacy_provider"], e["legacy_model"])
    orphaned = {(pk, key.split(".")[1]) for key, pks in ledger["orphans"].items()
                if key.startswith("pipeline_profiles.") and key.endswith("_model_internal_id") for pk in pks}
    assert orphaned == {(e["pk"], e["column"]) for e in refs}
    assert not all(e["in_catalog"] for e in refs)  # x-ai/grok-beta: a new inactive catalog row
    models = [e["legacy_model"] for e in refs]
    assert "claude-3.5-sonnet" in models and any("/" in m for m in models)
    assert {e["table"] for e in ledger["dangling_model_refs"]} == {"provider_performance", "model_rankings"}


# -- orphans and types -------------------------------------------------------------------------------------
def test_orphans_in_not_null_and_nullable_foreign_keys(install):
    _, _, ledger, con = install
    orphans = ledger["orphans"]
    for key in ("messages.conversation_id", "usage_records.conversation_id", "activity_log.user_id",
                "activity_log.conversation_id", "conversations.user_id", "conversations.consensus_profile_id",
                "budget_limits.user_id", "conversation_usage.conversation_id"):
        assert orphans.get(key), key
    assert ledger["orphan_messages"] == orphans["messages.conversation_id"]
    assert declared(con, "messages", "conversation_id")[1] and not declared(con, "usage_records", "conversation_id")[1]
    deleted = set(ledger["deleted_conversation_ids"])
    for mid in ledger["orphan_messages"]:
        cid = con.execute("SELECT conversation_id FROM messages WHERE id = ?", (mid,)).fetchone()[0]
        assert cid in deleted
        assert con.execute("SELECT count(*) FROM conversations WHERE id = ?", (cid,)).fetchone()[0] == 0
    ghost = ledger["ghost_user_ids"][0]
    assert con.execute("SELECT count(*) FROM users WHERE id = ?", (ghost,)).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM activity_log WHERE user_id = ?", (ghost,)).fetchone()[0] > 0


def test_values_stored_with_another_type(install):
    _, _, ledger, con = install
    for e in ledger["numbers_as_text"]:
        assert row(con, e["table"], e["column"], e["pk"]) == ("text", e["value"])
        assert declared(con, e["table"], e["column"])[0] in ("REAL", "INTEGER")
        float(e["value"])
    assert {(e["table"], e["column"]) for e in ledger["numbers_as_text"]} >= {
        ("usage_records", "cost"), ("usage_records", "tokens_input")}
    for e in ledger["booleans_as_text"]:
        assert row(con, e["table"], e["column"], e["pk"]) == ("text", e["value"])
        assert declared(con, e["table"], e["column"])[0] == "BOOLEAN"
    assert {e["value"] for e in ledger["booleans_as_text"]} == {"true", "false", "1", "0"}
    assert ledger["unparseable_numbers"]
    for e in ledger["unparseable_numbers"]:
        assert row(con, "usage_records", "cost", e["pk"]) == ("text", "abc")


def test_timestamps_drift(install):
    _, _, ledger, con = install
    for key, check in (("timestamps_epoch_ms", lambda v: v > 10 ** 12), ("timestamps_epoch_s", lambda v: 10 ** 9 < int(v) < 10 ** 10),
                       ("timestamps_iso_z", lambda v: v.endswith("Z")), ("timestamps_iso_offset", lambda v: v.endswith("+02:00"))):
        assert ledger[key], key
        for e in ledger[key]:
            typ, value = row(con, e["table"], e["column"], e["pk"])
            assert value == e["value"] and check(value), e
            if e.get("storage") == "integer":
                assert typ == "integer"
    assert any(e["table"] == "messages" for e in ledger["timestamps_epoch_ms"])
    assert any(e["storage"] == "integer" and declared(con, e["table"], e["column"])[0] == "TEXT"
               for e in ledger["timestamps_epoch_s"])
    bad = ledger["unparseable_timestamps"]
    assert {"yesterday", "N/A"} <= {e["value"] for e in bad}
    for e in bad:
        assert row(con, e["table"], e["column"], e["pk"]) == ("text", e["value"])
        assert declared(con, e["table"], e["column"])[1] == e["not_null"]
    assert any(e["not_null"] for e in bad) and any(not e["not_null"] for e in bad)


def test_tiers_checks_and_integrity_report(install):
    _, _, ledger, con = install
    tiers = {r[0] for r in con.execute("SELECT tier FROM users")}
    assert {"Premium", "FREE", "basic", "gold"} <= tiers
    assert [ledger["user_tiers"][u] for u in ledger["unknown_tiers"]] == ["gold"]
    events = [r[0] for r in con.execute(f"SELECT event_type FROM activity_log WHERE event_type NOT IN "
                                        f"({','.join('?' * len(ALLOWED_EVENTS))})", ALLOWED_EVENTS)]
    contexts = [r[0] for r in con.execute("SELECT context_type FROM conversation_context WHERE context_type NOT IN "
                                          "('recent_24h', 'thematic', 'direct_reference')")]
    assert events and contexts
    assert len(ledger["check_violations"]) == len(events) + len(contexts)
    # quick_check names only the planted CHECK violations and storage-class drift, no corruption
    for (line,) in con.execute("PRAGMA quick_check(1000)"):
        assert re.fullmatch(r"CHECK constraint failed in \w+|(TEXT|NUMERIC) value in \w+\.\w+", line), line


def test_consensus_profiles_and_settings(install):
    _, _, ledger, con = install
    seeded = {p["id"]: p for p in TARGET_SPEC["fresh_database_rows"]["consensus_profiles"]}
    lf = con.execute("SELECT generator_model, refiner_model, validator_model, curator_model FROM consensus_profiles "
                     "WHERE id = 'lightning-fast'").fetchone()
    s = seeded["lightning-fast"]
    assert lf != (s["generator_model"], s["refiner_model"], s["validator_model"], s["curator_model"])
    linked = con.execute("SELECT id, pipeline_profile_id FROM consensus_profiles WHERE pipeline_profile_id IS NOT NULL").fetchall()
    assert dict(linked) == ledger["consensus_profiles"]["with_pipeline_profile_id"] and len(linked) >= 2
    active = con.execute("SELECT value FROM consensus_settings WHERE key = 'active_profile_id'").fetchone()[0]
    assert active == ledger["consensus_profiles"]["active_profile_id"] and active not in seeded
    assert con.execute("SELECT count(*) FROM consensus_profiles WHERE id = ?", (active,)).fetchone()[0] == 1


def test_usage_totals_are_exact(install):
    _, _, ledger, con = install
    tin, tout = 0, 0
    costs = []
    for c, i, o in con.execute("SELECT cost, tokens_input, tokens_output FROM usage_records"):
        if c != "abc":
            costs.append(float(c))
        tin += int(i)
        tout += int(o)
    assert round(math.fsum(costs), 9) == ledger["usage_totals"]["cost"]
    assert (tin, tout) == (ledger["usage_totals"]["tokens_input"], ledger["usage_totals"]["tokens_output"])


# -- variants -------------------------------------------------------------------------------------------
def test_desktop_variant_drift(installs):
    db, ledger = installs["desktop"]
    with connect(db) as con:
        cols = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})")] for t in ("conversations", "messages")}
        assert cols["conversations"][-2:] == ["title", "profile_id"] and "consensus_improvement" not in cols["conversations"]
        assert cols["messages"][-2:] == ["tokens_used", "cost"]
        for t in ("model_aliases", "consensus_profiles_v2"):
            assert con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] >= 3
        pk = [r for r in con.execute("PRAGMA table_info(openrouter_models)") if r[5]]
        assert [(r[1], r[2]) for r in pk] == [("internal_id", "TEXT")]
        hexes = {e["internal_id"] for e in ledger["hex_internal_ids"]}
        assert len(hexes) >= 2
        for h in hexes:
            raw = con.execute("SELECT openrouter_id FROM openrouter_models WHERE internal_id = ?", (h,)).fetchone()[0]
            assert h == hashlib.sha1(raw.encode()).hexdigest()
        assert {e["table"] for e in ledger["hex_id_refs"]} == {"pipeline_profiles", "provider_performance", "model_rankings"}
        for e in ledger["hex_id_refs"]:
            assert row(con, e["table"], e["column"], e["pk"]) == ("text", e["value"]) and e["value"] in hexes
        assert con.execute("SELECT typeof(internal_id) FROM openrouter_models "
                           "WHERE openrouter_id = 'openai/gpt-4o-mini'").fetchone() == ("text",)
    header = db.read_bytes()[:100]
    assert header[18:20] == b"\x02\x02"  # WAL
    assert sidecars(db) == []


def test_typescript_variant_is_rollback_journal_without_hex_ids(installs):
    db, ledger = installs["typescript"]
    assert db.read_bytes()[18:20] == b"\x01\x01"
    assert ledger["hex_internal_ids"] == [] and ledger["desktop"] is None
    assert sidecars(db) == []
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM openrouter_models WHERE typeof(internal_id) != 'integer'").fetchone()[0] == 0


# -- API and CLI ----------------------------------------------------------------------------------------
def test_scales_and_refusals(tmp_path):
    assert gen.resolve_scale("medium")["conversations"] == 1200
    assert gen.resolve_scale("heavy")["messages"] == 1_000_000 and gen.resolve_scale("heavy")["models"] == 300
    assert gen.resolve_scale(2)["conversations"] == 240
    half, double = gen.resolve_scale("heavy:0.5"), gen.resolve_scale("heavy:2")
    assert (half["conversations"], half["messages"]) == (100_000, 500_000)
    assert (double["conversations"], double["messages"]) == (400_000, 2_000_000)
    assert half["users"] == double["users"] == gen.resolve_scale("heavy")["users"]
    for bad in ("huge", "heavy:0", "heavy:-1", "heavy:x"):
        with pytest.raises(ValueError):
            gen.resolve_scale(bad)
    with pytest.raises(ValueError):
        gen.generate_install(tmp_path, variant="rust")
    db, _ = build(tmp_path, "x", seed=1, scale=0.4)
    _, ledger = build(tmp_path, "tiny-heavy", seed=1, scale="heavy:0.002")
    assert ledger["json"]["usage_monitor"]["records"] == 2_000 + 1   # scaled with heavy, plus the clashing record
    with pytest.raises(FileExistsError):
        gen.generate_install(tmp_path / "x", seed=1)


def test_cli_refuses_to_overwrite_without_force(tmp_path):
    home = tmp_path / "home"
    cmd = [sys.executable, str(GENERATE), str(home), "--seed", "5", "--scale", "0.5"]
    first = subprocess.run(cmd + ["--ledger", str(tmp_path / "ledger.json")], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    db = home / ".hive" / "hive-ai.db"
    before = sha256(db)
    assert json.loads((tmp_path / "ledger.json").read_text()) == gen.generate_install(tmp_path / "api", seed=5, scale=0.5)
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 2 and again.stdout == ""
    assert len(again.stderr.strip().splitlines()) == 1 and "already exists" in again.stderr
    assert sha256(db) == before
    forced = subprocess.run(cmd + ["--force", "--seed", "6"], capture_output=True, text=True)
    assert forced.returncode == 0, forced.stderr
    assert sha256(db) != before


@pytest.mark.parametrize("variant", ["typescript", "desktop"])
def test_committed_sample_installs_match_a_regeneration(variant, installs, tmp_path):
    home, seed = SAMPLES[variant]
    committed = home / ".hive" / "hive-ai.db"
    if not committed.exists():
        pytest.skip("sample install not generated yet")
    fresh, ledger = installs[variant]
    expected = ["hive-ai.db"] + sorted(Path(f).name for k, f in ledger["json"]["files"].items()
                                       if f.startswith(".hive/"))
    assert sorted(p.name for p in committed.parent.iterdir()) == sorted(expected)
    assert committed.stat().st_size < 1_600_000
    copy = tmp_path / "copy.db"
    shutil.copyfile(committed, copy)
    with connect(copy) as a, connect(fresh) as b:
        assert list(a.iterdump()) == list(b.iterdump())
    assert json_files(home) == json_files(fresh.parents[1])   # the JSON files byte for byte
    assert sorted(json_files(home)) == sorted(ledger["json"]["files"].values())


# -- legacy JSON files -------------------------------------------------------------------------------
def usage_records_of(home: Path, layout: str) -> list:
    data = (home / ".hive-ai" / "usage-monitor.json").read_text(encoding="utf-8")
    if layout == "ndjson":
        return [json.loads(line) for line in data.splitlines()]
    return json.loads(data)["records"]


def at(records: list, path: str):
    return records[int(re.search(r"\d+", path).group()) - (1 if path.startswith("line") else 0)]


def instant(con, value) -> str:
    if isinstance(value, int):
        value = value / 1000 if value >= 10**11 else value
        return con.execute("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?, 'unixepoch')", (value,)).fetchone()[0]
    return con.execute("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?)", (value,)).fetchone()[0]


def test_json_files_written_per_variant(install):
    variant, db, ledger, _ = install
    home = db.parents[1]
    led = ledger["json"]
    assert sorted(json_files(home)) == sorted(led["files"].values())
    assert led["files"] == {k: v for k, v in gen.JSON_FILES.items() if k != "license" or variant == "desktop"}
    assert led["absent"] == ([] if variant == "desktop" else ["license"])
    for rel in led["files"].values():
        if not (variant == "desktop" and rel.endswith("usage-monitor.json")):
            json.loads((home / rel).read_text(encoding="utf-8"))
    stats = json.loads((home / ".hive" / "usage_stats.json").read_text())
    cache = json.loads((home / ".hive" / "subscription_cache.json").read_text())
    assert led["credits_remaining"] == {"usage_stats": stats["credits_remaining"],
                                        "subscription_cache": cache["credits_remaining"]}
    assert all(isinstance(v, float) and round(v * 100) % 10 for v in led["credits_remaining"].values())
    assert stats["credits_remaining"] != cache["credits_remaining"]
    assert cache["tier"] == "Unlimited" and led["subscription_cache"]["subscription_tier"] == "unlimited"


def test_usage_monitor_json_is_planted_as_the_ledger_says(install):
    variant, db, ledger, con = install
    led = ledger["json"]["usage_monitor"]
    assert led["layout"] == ("ndjson" if variant == "desktop" else "wrapped")
    records = usage_records_of(db.parents[1], led["layout"])
    assert len(records) == led["records"] == led["with_own_id"] + led["without_id"]
    assert sum(v["records"] for v in led["key_variants"].values()) == len(records)
    assert sum(led["timestamps"].values()) == len(records) and all(led["timestamps"].values())
    assert all(v["records"] for v in led["key_variants"].values()) and led["action_omitted"] > 0
    columns = ("user_id", "conversation_id", "action_type", "model_used", "cost", "tokens_input", "tokens_output",
               "timestamp")

    def db_row(rid):
        return dict(zip(columns, con.execute(f"SELECT {', '.join(columns)} FROM usage_records WHERE id = ?",
                                             (rid,)).fetchone()))

    def content(rec):
        keys = gen.USAGE_KEY_VARIANTS[next(v for v, k in gen.USAGE_KEY_VARIANTS.items() if k["tokens_input"] in rec)]
        return dict(user_id=rec.get(keys["user_id"]), conversation_id=rec.get(keys["conversation_id"]),
                    action_type=rec.get(keys["action"], "model_call"), model_used=rec.get(keys["model"]),
                    cost=float(rec["cost"]), tokens_input=rec[keys["tokens_input"]],
                    tokens_output=rec[keys["tokens_output"]], timestamp=instant(con, rec[keys["timestamp"]]))

    assert len(led["same_id_as_db"]) == 3 and len(led["same_content_as_db"]) == 4
    for e in led["same_id_as_db"]:
        rec = at(records, e["path"])
        row = db_row(e["id"])
        assert rec["id"] == e["id"] and content(rec) == dict(row, timestamp=instant(con, row["timestamp"]))
    for e in led["same_content_as_db"]:
        rec = at(records, e["path"])
        row = db_row(e["db_id"])
        assert "id" not in rec and content(rec) == dict(row, timestamp=instant(con, row["timestamp"]))
    assert {e["timestamp_as"] for e in led["same_content_as_db"]} >= {"epoch_ms", "iso_z", "db_text"}
    (clash,) = led["clashing_id"]                       # the last record: a row's id, other content
    rec, row = at(records, clash["path"]), db_row(clash["id"])
    assert rec is records[-1] and rec == clash["record"] and rec["id"] == clash["id"]
    mine, theirs = content(rec), dict(row, timestamp=instant(con, row["timestamp"]))
    assert {k for k in mine if mine[k] != theirs[k]} == {"cost", "tokens_output"}
    assert clash["id"] not in {e["id"] for e in led["same_id_as_db"]}
    assert sorted(e["id"] is None for e in led["repeated_in_file"]) == [False, True]
    for e in led["repeated_in_file"]:
        assert at(records, e["path"]) == at(records, e["same_as"])
    assert {(b["field"], json.dumps(b["value"])) for b in led["bad"]} == {
        ("timestamp", '"not a date"'), ("tokens_input", '"abc"'), ("cost", "-0.0042"), ("action_type", '"refund"')}
    for b in led["bad"]:
        assert at(records, b["path"]) == b["record"] and b["record"][b["key"]] == b["value"]
    assert led["loadable"] == len(records) - 4
    planted = (len(led["same_id_as_db"]) + len(led["same_content_as_db"]) + len(led["clashing_id"])
               + len(led["repeated_in_file"]) + 4)
    assert led["totals_new"]["rows"] == len(records) - planted
    assert [r for r in records if any(isinstance(v, int) and v > 10**12 for v in r.values())]   # epoch ms


def test_other_json_files_are_planted_as_the_ledger_says(install):
    variant, db, ledger, con = install
    home = db.parents[1]
    led = ledger["json"]
    budget = json.loads((home / ".hive-ai" / "budget.json").read_text())
    assert led["budget"]["layout"] == ("list" if variant == "desktop" else "periods")
    assert ("budgets" in budget) == (variant == "desktop")
    assert [r["id"] for r in led["budget"]["rows"]] == [f"json-budget-{led['budget']['user_id']}-{p}"
                                                         for p in ("daily", "monthly")]
    assert con.execute("SELECT count(*) FROM users WHERE id = ?", (led["budget"]["user_id"],)).fetchone()[0] == 1
    assert led["budget"]["bad"] and led["budget"]["db_budgets_of_the_same_user"]
    cost = json.loads((home / ".hive-ai" / "cost-tracking.json").read_text())["conversations"]
    ct = led["cost_tracking"]
    assert set(cost) == set(ct["conversations"]) == set(ct["with_cost_analytics_row"]) | set(
        ct["without_cost_analytics_row"]) | set(ct["deleted_conversation"])
    has_row = {r[0] for r in con.execute("SELECT DISTINCT conversation_id FROM cost_analytics")}
    conversations = {r[0] for r in con.execute("SELECT id FROM conversations")}
    assert set(ct["with_cost_analytics_row"]) <= has_row & conversations
    assert not set(ct["without_cost_analytics_row"]) & has_row and set(ct["without_cost_analytics_row"]) <= conversations
    assert ct["deleted_conversation"] and not set(ct["deleted_conversation"]) & conversations
    catalog = {gen.canonical_model_id(r[0]) for r in con.execute("SELECT openrouter_id FROM openrouter_models")}
    assert [u["model"] for u in ct["unknown_models"]] == [gen.JSON_UNKNOWN_MODEL]
    assert gen.JSON_UNKNOWN_MODEL not in catalog | set(gen.SEEDED_MODELS.values())
    u = ct["unknown_models"][0]
    assert cost[u["conversation_id"]]["stages"][u["stage"]]["model"] == gen.JSON_UNKNOWN_MODEL
    assert any("total_cost" in e for e in cost.values()) and any("totalCost" in e for e in cost.values())
    lic = home / ".hive" / "license.json"
    assert lic.exists() == (variant == "desktop")
    if variant == "desktop":
        doc = json.loads(lic.read_text())
        key = con.execute("SELECT license_key FROM users WHERE id = ?", (doc["user_id"],)).fetchone()[0]
        assert doc["key"] == key == led["license"]["key"]


def test_a_regeneration_removes_json_files_the_variant_does_not_write(tmp_path):
    home = tmp_path / "home"
    gen.generate_install(home, seed=3, scale=0.4, variant="desktop")
    assert (home / ".hive" / "license.json").exists()
    (home / ".hive" / "hive-ai.db").unlink()
    gen.generate_install(home, seed=3, scale=0.4, variant="typescript")
    assert not (home / ".hive" / "license.json").exists()
    assert not [p for p in home.rglob("*.building")]


@pytest.mark.parametrize("record", [
    {"id": "usage-1719705600123-0badf00d", "timestamp": "2025-06-29T23:59:00.123Z", "userId": "u-1",
     "model": "openai/gpt-4o", "action": "model_call", "inputTokens": 350, "outputTokens": 1200, "cost": 0.0042},
    {"cost": 1e-05, "small": 4.74e-05, "tiny": 5e-324, "big": 1e22, "third": 0.1 + 0.2, "neg": -0.0, "zero": 0},
    {"huge": 10**40, "negative": -(2**63), "none": None, "yes": True, "no": False},
    {"unicode": "caf\u00e9 \u2603 \U0001f600 \u2028\u2029", "escapes": "quote \" backslash \\ tab \t nl \n \x00 \x1f \x7f"},
    {"nested": {"a": 1, "b": [1, 2.5, None]}, "after": "x"},
    {"list": [], "dict": {}},
    {"nan": float("nan")}, {"inf": float("inf"), "minf": float("-inf")},
    {1: "int key", None: "null key"},
    {},
])
@pytest.mark.parametrize("indent", [0, 4])
def test_fast_record_writer_matches_json_dumps_indent_2(record, indent):
    """usage-monitor.json is written with _js_pretty_record, not json.dumps(indent=2): the bytes must be the same."""
    expected = json.dumps(record, indent=2, ensure_ascii=False)
    expected = expected.replace("\n", "\n" + " " * indent) if indent else expected
    assert gen._js_pretty_record(record, indent) == expected == gen._js_pretty(record, indent)
