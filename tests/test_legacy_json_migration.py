"""The legacy JSON files inside `hive-etl migrate`: what loads, what is counted once, what is
refused, and that credits never reach the database (issue: legacy JSON stores)."""

import hashlib
import json
import shutil
import sqlite3

import pyarrow.parquet as pq
import pytest

from conftest import SAMPLES, load_generator, make_install, run_cli


def checksum(db, table):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    digest = hashlib.sha256(repr(conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()).encode()).hexdigest()
    conn.close()
    return digest


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def run(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"json-{request.param}")
    home, seed = SAMPLES[request.param]
    ledger = load_generator().generate_install(tmp / "ledger", seed=seed, variant=request.param)
    target = tmp / "out" / "hive-ai.db"
    target.parent.mkdir()
    result = run_cli("migrate", "--home", str(home), "--target", str(target), "--report-dir", str(tmp / "report"))
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp / "report" / "report.json").read_text())
    return {"home": home, "ledger": ledger["json"], "report": report, "target": target, "tmp": tmp,
            "usage_db": ledger["usage_totals"]}


def test_every_json_record_is_loaded_counted_as_duplicate_or_quarantined(run):
    usage = run["ledger"]["usage_monitor"]
    got = run["report"]["sources"]["usage-monitor.json"]
    assert got["records"] == usage["records"]
    assert got["loaded"] == usage["totals_new"]["rows"]
    assert got["duplicates"] == len(usage["same_id_as_db"]) + len(usage["same_content_as_db"]) + len(usage["repeated_in_file"])
    assert got["quarantined"] == len(usage["bad"])
    assert got["merged"] == len(usage["clashing_id"])     # a database row's id, other content: a conflict
    clashes = [c for c in run["report"]["conflicts"] if c["table"] == "usage_records"]
    assert [(c["key"]["id"], c["kept"]) for c in clashes] == [(e["id"], "target") for e in usage["clashing_id"]]
    for name, s in run["report"]["sources"].items():
        assert s["records"] == s["loaded"] + s["merged"] + s["duplicates"] + s["quarantined"] + s["archived"], name


def test_cost_and_token_totals_cover_database_and_json_and_reconcile_exactly(run):
    totals = run["report"]["totals"]
    new = run["ledger"]["usage_monitor"]["totals_new"]
    (clash,) = run["ledger"]["usage_monitor"]["clashing_id"]   # not loaded: the database's row stays
    for column, key in (("cost", "cost"), ("tokens_input", "inputTokens"), ("tokens_output", "outputTokens")):
        t = totals[column]
        assert t["already_present"] == pytest.approx(clash["record"][key], abs=1e-9)
        assert t["source"] == pytest.approx(t["target"] + t["already_present"] + t["quarantined"], abs=1e-9)
        assert t["target"] == pytest.approx(run["usage_db"][column] + new[column], abs=1e-9)


def test_bad_json_records_are_quarantined_with_their_json_path(run):
    import pyarrow.parquet as pq

    rows = pq.read_table(run["tmp"] / "report" / "quarantine" / "usage-monitor.json.parquet").to_pylist()
    paths = {json.loads(r["source_pk"])["json_path"] for r in rows}
    assert paths == {bad["path"] for bad in run["ledger"]["usage_monitor"]["bad"]}
    assert all(r["reason"] for r in rows)


def test_cost_tracking_fills_only_conversations_without_a_row(run):
    conn = sqlite3.connect(f"file:{run['target']}?mode=ro", uri=True)
    cost = run["ledger"]["cost_tracking"]
    # immutable: a read-only connection to a WAL-mode file would leave -wal and -shm in the fixture
    source = sqlite3.connect(f"file:{run['home'] / '.hive' / 'hive-ai.db'}?mode=ro&immutable=1", uri=True)
    for conversation in cost["with_cost_analytics_row"]:   # the database's rows, and nothing from the file
        count = "SELECT count(*) FROM cost_analytics WHERE conversation_id = ?"
        assert conn.execute(count, (conversation,)).fetchone() == source.execute(count, (conversation,)).fetchone() != (0,)
    source.close()
    got = run["report"]["sources"]["cost-tracking.json"]
    assert got["duplicates"] == len(cost["with_cost_analytics_row"])
    archived = pq.read_table(run["tmp"] / "report" / "archive" / "cost-tracking.json.parquet").to_pylist()
    held = {r["source_pk"] for r in archived if "already has a cost_analytics row" in r["reason"]}
    assert len(held) == len(cost["with_cost_analytics_row"])
    for conversation in cost["without_cost_analytics_row"]:
        assert conn.execute("SELECT count(*) FROM cost_analytics WHERE conversation_id = ?", (conversation,)).fetchone() == (1,)
    breakdown = conn.execute("SELECT provider_breakdown FROM cost_analytics WHERE conversation_id = ?",
                             (cost["without_cost_analytics_row"][0],)).fetchone()[0]
    assert all("/" not in provider for provider in json.loads(breakdown))
    models = {m for c in cost["conversations"].values() for m in c["models"]}
    catalog = {r[0] for r in conn.execute("SELECT openrouter_id FROM openrouter_models")}
    assert models <= catalog
    conn.close()


def test_license_and_subscription_tier_come_from_the_json_files(run):
    conn = sqlite3.connect(f"file:{run['target']}?mode=ro", uri=True)
    cache = run["ledger"]["subscription_cache"]
    assert conn.execute("SELECT subscription_tier FROM users WHERE id = ?", (cache["user_id"],)).fetchone() == (
        cache["subscription_tier"],)
    licenses = conn.execute("SELECT key, user_id, daily_limit FROM licenses").fetchall()
    assert len(licenses) == 1
    expected = run["ledger"]["license"] or {"key": None, "user_id": cache["user_id"], "daily_limit": cache["daily_limit"]}
    assert licenses[0][1:] == (expected["user_id"], expected["daily_limit"])
    if run["ledger"]["license"]:
        assert licenses[0][0] == expected["key"]
    conn.close()


def test_no_credits_value_reaches_the_target_database(run):
    data = run["target"].read_bytes()
    conn = sqlite3.connect(f"file:{run['target']}?mode=ro", uri=True)
    for value in run["ledger"]["credits_remaining"].values():
        assert str(value).encode() not in data
        for table, in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                hit = conn.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}" = ? OR CAST("{column}" AS TEXT) LIKE ?',
                                   (value, f"%{value}%")).fetchone()[0]
                assert hit == 0, (table, column, value)
    assert not [c for t, in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                for c in (r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')) if "credit" in c]
    conn.close()
    assert {c["value"] for c in run["report"]["credits"]["found"]} == set(run["ledger"]["credits_remaining"].values())


def test_running_twice_over_the_same_sources_yields_identical_usage_records(run, tmp_path):
    target = tmp_path / "hive-ai.db"
    shutil.copy(run["target"], target)
    before = checksum(target, "usage_records")
    result = run_cli("migrate", "--home", str(run["home"]), "--target", str(target), "--report-dir", str(tmp_path / "r"))
    assert result.exit_code == 0, result.stderr
    assert checksum(target, "usage_records") == before
    second = json.loads((tmp_path / "r" / "report.json").read_text())
    assert second["sources"]["usage-monitor.json"]["loaded"] == 0


def test_a_broken_json_file_stops_the_run_naming_file_and_path(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(SAMPLES["typescript"][0], home)
    usage = home / ".hive-ai" / "usage-monitor.json"
    usage.write_bytes(usage.read_bytes()[: len(usage.read_bytes()) // 2])
    result = run_cli("migrate", "--home", str(home), "--target", str(tmp_path / "out.db"), "--report-dir", str(tmp_path / "r"))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and "usage-monitor.json" in line and "$" in line and "Traceback" not in line
    assert not (tmp_path / "out.db").exists() and not (tmp_path / "r").exists()


def test_a_model_only_the_usage_file_names_gets_a_catalog_row(tmp_path):
    """The usage file is read beside the table loads, so its models are resolved after the
    database's: a model nothing else names still gets its inactive placeholder row, and the
    record loads naming it."""
    home = tmp_path / "home"
    shutil.copytree(SAMPLES["typescript"][0], home)
    usage = home / ".hive-ai" / "usage-monitor.json"
    document = json.loads(usage.read_text(encoding="utf-8"))
    document["records"].append({"id": "usage-only-json-model", "timestamp": "2025-03-01T10:00:00.000Z",
                                "userId": None, "model": "acme/only-in-json-9b", "action": "model_call",
                                "inputTokens": 10, "outputTokens": 20, "cost": 0.25})
    usage.write_text(json.dumps(document), encoding="utf-8")
    target = tmp_path / "hive-ai.db"
    result = run_cli("migrate", "--home", str(home), "--target", str(target), "--report-dir", str(tmp_path / "r"))
    assert result.exit_code == 0, result.stderr
    conn = sqlite3.connect(target)
    row = conn.execute("SELECT internal_id, is_active FROM openrouter_models WHERE openrouter_id = 'acme/only-in-json-9b'").fetchone()
    assert row is not None and row[1] == 0
    assert conn.execute("SELECT model_used, cost FROM usage_records WHERE id = 'usage-only-json-model'").fetchone() == \
        ("acme/only-in-json-9b", 0.25)
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert any(m.get("source") == "acme/only-in-json-9b" and "placeholder" in m.get("resolution", "") for m in report["models"])


def test_a_record_clashing_with_a_database_row_leaves_the_others_written_as_without_it(tmp_path):
    """One record whose id a different database row holds sends the file's records through the
    merge: the clash is listed, and the other records are written in the same order as when
    nothing clashes (their key order, as staged), not re-sorted by their place in the file,
    each value they lose archived once."""
    ids = [f"usage-{n:03d}" for n in (7, 3, 9, 1, 5, 8, 2, 6, 4)]        # not in key order in the file
    database_row = ("INSERT INTO usage_records (id, action_type, cost, tokens_input, tokens_output, timestamp) "
                    "VALUES ('usage-db', 'sync', 0.5, 1, 2, '2025-01-01 00:00:00');")

    def migrate(name: str, clash: bool):
        home = make_install(tmp_path / name, database_row)
        records = [{"id": i, "timestamp": "2025-03-01T10:00:00.000Z", "action": "sync", "inputTokens": n,
                    "outputTokens": 1, "cost": 0.001 * n} for n, i in enumerate(ids)]
        records[2]["userId"] = "ghost"                  # no such user: set to NULL, archived once
        if clash:
            records.insert(4, {**records[0], "id": "usage-db"})
        (home / ".hive-ai").mkdir()
        (home / ".hive-ai" / "usage-monitor.json").write_text(json.dumps({"records": records}), encoding="utf-8")
        target = tmp_path / name / "out.db"
        result = run_cli("migrate", "--home", str(home), "--target", str(target), "--report-dir", str(tmp_path / name / "r"))
        assert result.exit_code == 0, result.stderr
        conn = sqlite3.connect(target)
        written = [r[0] for r in conn.execute("SELECT id FROM usage_records WHERE id <> 'usage-db' ORDER BY rowid")]
        kept = conn.execute("SELECT cost FROM usage_records WHERE id = 'usage-db'").fetchone()
        conn.close()
        archived = pq.read_table(tmp_path / name / "r" / "archive" / "usage-monitor.json.parquet").to_pylist()
        assert [(json.loads(a["source_pk"])["_json_path"], a["column"], a["value"]) for a in archived] == \
            [("$.records[2]", "user_id", "ghost")]
        return written, kept, json.loads((tmp_path / name / "r" / "report.json").read_text())

    plain, plain_kept, _ = migrate("plain", clash=False)
    merged, merged_kept, report = migrate("clash", clash=True)
    assert plain == merged == sorted(ids)
    assert plain_kept == merged_kept == (0.5,)            # the database's row stays
    assert [c["key"] for c in report["conflicts"] if c["table"] == "usage_records"] == [{"id": "usage-db"}]
