"""Migrating the committed sample installs: the issue's definition of done, checked from outside.

Both installs (the TypeScript build and the drifted desktop build) are migrated in place,
as a user would, on a copy of the fixture. Everything below is re-derived from the files
(spec JSON, the new database, the backup, the generator's ledger), not from what the tool
says it did.
"""

import hashlib
import json
import shutil
import sqlite3

import pyarrow.parquet as pq
import pytest

from conftest import SAMPLES, load_generator, run_cli
from hive_etl.schema import diff_migrations, diff_tables, introspect, migration_rows, target_spec
from hive_etl.sqlite_files import PAGE_SIZE
from hive_etl.transform.model_ids import canonicalise, shipped_aliases

SPEC = target_spec()


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Migrated:
    def __init__(self, variant, tmp):
        fixture_home, seed = SAMPLES[variant]
        self.fixture_db = fixture_home / ".hive" / "hive-ai.db"
        self.fixture_sha = sha256(self.fixture_db)
        self.home = tmp / "home"
        shutil.copytree(fixture_home, self.home)
        self.db = self.home / ".hive" / "hive-ai.db"
        self.report_dir = tmp / "report"
        self.ledger = load_generator().generate_install(tmp / "ledger-home", seed=seed, variant=variant)
        self.result = run_cli("migrate", "--home", str(self.home), "--report-dir", str(self.report_dir))
        self.report = json.loads((self.report_dir / "report.json").read_text())
        self.conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)

    def rows(self, sql, *params):
        return self.conn.execute(sql, params).fetchall()

    def parquet(self, kind, table):
        path = self.report_dir / kind / f"{table}.parquet"
        return pq.read_table(path).to_pylist() if path.exists() else []

    def quarantined_pks(self, table):
        return {next(iter(json.loads(r["source_pk"]).values())) for r in self.parquet("quarantine", table)}


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def run(request, tmp_path_factory):
    migrated = Migrated(request.param, tmp_path_factory.mktemp(request.param))
    assert migrated.result.exit_code == 0, migrated.result.stderr
    yield migrated
    migrated.conn.close()


def test_target_schema_is_identical_to_the_spec(run):
    assert diff_tables(introspect(run.conn), SPEC["tables"]) == []
    assert introspect(run.conn) == SPEC["tables"]
    assert diff_migrations(migration_rows(run.conn), SPEC["migration_tracking"]["versions"]) == []
    assert run.rows("PRAGMA journal_mode") == [("wal",)]
    assert run.rows("PRAGMA page_size") == [(PAGE_SIZE,)]     # the tool's, not SQLite's default 4096


def test_foreign_key_and_integrity_checks_are_clean(run):
    assert run.rows("PRAGMA foreign_key_check") == []
    assert run.rows("PRAGMA integrity_check") == [("ok",)]


def test_every_reconciliation_identity_holds_against_the_files(run):
    source = sqlite3.connect(f"file:{run.fixture_db}?immutable=1", uri=True)
    seeded = {t: len(rows) for t, rows in SPEC["fresh_database_rows"].items()}
    for table, t in run.report["tables"].items():
        assert t["read"] == t["inserted"] + t["merged"] + t["duplicates"] + t["quarantined"], table
        from_json = sum(s["records"] for s in run.report.get("sources", {}).values() if s["table"] == table)
        if t["read"] - from_json:
            assert t["read"] - from_json == source.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0], table
        assert run.rows(f'SELECT count(*) FROM "{table}"')[0][0] == seeded.get(table, 0) + t["inserted"] + t["created"], table
        quarantined = run.parquet("quarantine", table) + [
            q for name, s in run.report.get("sources", {}).items() if s["table"] == table for q in run.parquet("quarantine", name)]
        assert len(quarantined) == t["quarantined"] and all(q["reason"] for q in quarantined), table
    source.close()
    totals = run.report["totals"]
    (clash,) = run.ledger["json"]["usage_monitor"]["clashing_id"]   # read, not loaded: its row stays
    for column, key in (("cost", "cost"), ("tokens_input", "inputTokens"), ("tokens_output", "outputTokens")):
        t = totals[column]
        assert t["already_present"] == pytest.approx(clash["record"][key], abs=1e-9)
        assert t["source"] == pytest.approx(t["target"] + t["already_present"] + t["quarantined"], abs=1e-9)
        json_new = run.ledger["json"]["usage_monitor"]["totals_new"][column]
        assert t["source"] == pytest.approx(run.ledger["usage_totals"][column] + json_new + clash["record"][key], abs=1e-9)
        assert totals[column]["target"] == pytest.approx(run.rows(f"SELECT sum({column}) FROM usage_records")[0][0], abs=1e-9)


def test_every_model_reference_resolves_to_a_catalog_row(run):
    aliases = shipped_aliases()
    catalog = {canonicalise(oid, aliases).id for (oid,) in run.rows("SELECT openrouter_id FROM openrouter_models")}
    texts = set()
    for table, column in [("messages", "model_used"), ("usage_records", "model_used"), ("activity_log", "model_used")] + [
            ("consensus_profiles", f"{stage}_model") for stage in ("generator", "refiner", "validator", "curator")]:
        texts |= {v for (v,) in run.rows(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")}
    for stage in ("generator", "refiner", "validator", "curator"):
        for provider, model in run.rows(f"SELECT {stage}_provider, {stage}_model FROM pipeline_profiles WHERE {stage}_model IS NOT NULL"):
            texts.add(model if "/" in model or not provider else f"{provider}/{model}")
    assert sorted(t for t in texts if canonicalise(t, aliases).id not in catalog) == []
    for table, column in [("provider_performance", "model_internal_id"), ("model_rankings", "model_internal_id")] + [
            ("pipeline_profiles", f"{stage}_model_internal_id") for stage in ("generator", "refiner", "validator", "curator")]:
        assert run.rows(f"SELECT count(*) FROM {table} WHERE {column} NOT IN (SELECT internal_id FROM openrouter_models)") == [(0,)]
    profiles = run.rows("SELECT generator_model, refiner_model, validator_model, curator_model FROM consensus_profiles")
    assert all(m in catalog for row in profiles for m in row)   # canonical ids, as the app sends them


def test_seeded_models_keep_ids_1_to_13(run):
    seeded = [(m["internal_id"], m["openrouter_id"]) for m in SPEC["fresh_database_rows"]["openrouter_models"]]
    assert run.rows("SELECT internal_id, openrouter_id FROM openrouter_models WHERE internal_id <= 13 ORDER BY 1") == seeded


def test_source_bytes_unchanged_and_kept_as_backup_then_restored(run, tmp_path):
    assert sha256(run.fixture_db) == run.fixture_sha
    backups = sorted(run.db.parent.glob("hive-ai.db.backup-*"))
    assert [sha256(b) for b in backups] == [run.fixture_sha]
    home = tmp_path / "home"
    shutil.copytree(run.home, home)
    result = run_cli("restore", "--home", str(home))
    assert result.exit_code == 0, result.stderr
    assert sha256(home / ".hive" / "hive-ai.db") == run.fixture_sha


def test_colliding_and_renamed_catalog_models_land_on_the_right_ids(run):
    catalog = dict(run.rows("SELECT openrouter_id, internal_id FROM openrouter_models"))
    for moved in run.ledger["seeded_models_under_other_ids"]:
        assert catalog[canonicalise(moved["openrouter_id"], shipped_aliases()).id] == moved["seeded_internal_id"]
    for renamed in run.ledger["noncanonical_catalog_ids"]:
        assert renamed["canonical"] in catalog
    assert all(isinstance(i, int) for i in catalog.values())
    by_source = {m["source_internal_id"]: m["internal_id"] for m in run.report["models"] if m["kind"] == "catalog"}
    for hex_id in run.ledger["hex_internal_ids"]:
        key = hex_id["internal_id"] if isinstance(hex_id, dict) else hex_id
        assert isinstance(by_source[key], int)


def test_dangling_references_are_resolved_or_quarantined(run):
    catalog = dict(run.rows("SELECT openrouter_id, internal_id FROM openrouter_models"))
    for ref in run.ledger["dangling_profile_refs"]:
        got = run.rows(f"SELECT {ref['column']} FROM pipeline_profiles WHERE id = ?", ref["pk"])
        assert got == [(catalog[canonicalise(ref["resolves_to"], shipped_aliases()).id],)], ref
    for ref in run.ledger["dangling_model_refs"]:
        if ref["table"] != "pipeline_profiles":
            assert ref["pk"] in run.quarantined_pks(ref["table"]), ref


def test_unknown_text_ids_become_inactive_catalog_rows(run):
    for model in run.ledger["distinct_unknown_model_ids"]:
        assert run.rows("SELECT is_active FROM openrouter_models WHERE openrouter_id = ?", model) == [(0,)], model
    for ref in run.ledger["unknown_model_refs"]:
        if ref["table"] == "messages" and ref["pk"] not in run.quarantined_pks("messages"):
            assert run.rows("SELECT model_used FROM messages WHERE id = ?", ref["pk"]) == [(ref["value"],)]


def test_orphans_checks_and_unreadable_values_are_quarantined_or_archived(run):
    assert set(run.ledger["orphan_messages"]) <= run.quarantined_pks("messages")
    for violation in run.ledger["check_violations"]:
        assert violation["pk"] in run.quarantined_pks(violation["table"]), violation
    for bad in run.ledger["unparseable_timestamps"]:
        if bad["not_null"]:
            assert bad["pk"] in run.quarantined_pks(bad["table"]), bad
        elif bad["pk"] not in run.quarantined_pks(bad["table"]):
            archived = {(a["column"], a["value"]) for a in run.parquet("archive", bad["table"])}
            assert (bad["column"], bad["value"]) in archived, bad
    for user in run.ledger["unknown_tiers"]:
        assert run.rows("SELECT subscription_tier FROM users WHERE id = ?", user) == [("free",)]


@pytest.mark.parametrize("variant", sorted(SAMPLES))
def test_migrating_the_committed_fixture_leaves_its_folder_byte_for_byte(variant, tmp_path):
    # The README's first command points at the committed install: nothing under it may change,
    # not even a -wal/-shm file appearing beside the WAL-mode desktop database.
    home = SAMPLES[variant][0]
    before = {p: sha256(p) for p in sorted(home.rglob("*")) if p.is_file()}
    result = run_cli("migrate", "--home", str(home), "--target", str(tmp_path / "hive-ai.db"),
                     "--report-dir", str(tmp_path / "report"))
    assert result.exit_code == 0, result.stderr
    assert {p: sha256(p) for p in sorted(home.rglob("*")) if p.is_file()} == before
