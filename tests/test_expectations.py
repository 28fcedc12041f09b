"""The expectation suites (expectations/*.json) and their engine, checked from outside.

One database migrated from the committed sample install is shared by the module. The target
suite passes on it; then every target expectation is shown to fail on a copy broken in
exactly the way it guards against, through `hive-etl check` and its JUnit XML. The source
suites run on the committed (dirty) fixture, read-only, and report the planted dirt, as
warnings, exactly where the fixture generator's ledger says it is.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO, SAMPLES, fresh_python, load_generator, run_cli
from hive_etl.checks import expectations as ex
from hive_etl.checks.junit import junit_tree
from hive_etl.checks.suite_worker import SuitesInChild, suites_request
from hive_etl.errors import HiveEtlError
from hive_etl.schema import target_spec
from hive_etl.transform.model_ids import canonicalise, shipped_aliases

SPEC = target_spec()
SAMPLE_HOME = SAMPLES["typescript"][0]
SAMPLE_DB = SAMPLE_HOME / ".hive" / "hive-ai.db"
TARGET = ex.load_suite("target")
TARGET_NAMES = [e["meta"]["name"] for e in TARGET["expectations"]]
CREDITS = 4250.75   # a credits_remaining figure no sample value equals


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Migrated:
    def __init__(self, folder: Path):
        self.db = folder / "hive-ai.db"
        self.report_dir = folder / "report"
        self.result = run_cli("migrate", "--home", str(SAMPLE_HOME), "--target", str(self.db),
                              "--report-dir", str(self.report_dir))
        self.report_path = self.report_dir / "report.json"
        # The same report as a legacy-JSON run would write it, naming a credits figure.
        report = json.loads(self.report_path.read_text())
        report["legacy_json"] = {"usage_stats.json": {"credits_remaining": CREDITS}}
        self.credit_report = folder / "report-with-credits.json"
        self.credit_report.write_text(json.dumps(report))
        self.params = ex.parameters_from_report(report)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    run = Migrated(tmp_path_factory.mktemp("migrated"))
    assert run.result.exit_code == 0, run.result.stderr
    return run


def junit_cases(path: Path) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in ET.parse(path).getroot().iter("testcase")}


# --------------------------------------------------------------------------- suite files

@pytest.mark.parametrize("name", ex.list_suites())
def test_every_suite_file_is_a_loadable_great_expectations_suite(name):
    import great_expectations as gx

    data = json.loads((ex.suites_dir() / f"{name}.json").read_text())
    assert data["name"] == name
    assert ex.suite_problems(data) == []
    suite = gx.ExpectationSuite(**data)          # kwargs validated by each expectation class
    assert len(suite.expectations) == len(data["expectations"])
    expected = "error" if name == "target" else "warning"
    assert {e["meta"]["severity"] for e in data["expectations"]} == {expected}


def test_the_suites_cover_the_tables_the_brief_names():
    wanted = {"users", "conversations", "messages", "usage_records", "openrouter_models", "pipeline_profiles",
              "activity_log", "consensus_profiles", "conversation_context", "performance_metrics"}
    assert {f"source.{t}" for t in wanted} <= set(ex.source_suites())
    assert "target" in ex.list_suites()


def test_target_suite_covers_every_table_and_foreign_key_of_v13():
    names = set(TARGET_NAMES)
    for table, facts in SPEC["tables"].items():
        assert f"row count: {table}" in names
        for fk in facts["foreign_keys"]:
            assert f"fk: {table}.{fk['column']} -> {fk['ref_table']}.{fk['ref_column']}" in names
    for column in ("cost", "tokens_input", "tokens_output"):
        assert f"total conserved: usage_records.{column}" in names


def test_target_suite_checks_every_text_model_reference_the_pipeline_writes():
    """The post-load checks leave model references to the target suite: every text column and
    legacy provider/model pair of pipelines/tables.yaml has its error expectation there."""
    from hive_etl.rules import table_rules

    wanted = set()
    for table, rules in table_rules().items():
        wanted |= {f"model ref: {table}.{column}" for column in rules.get("model_text") or {}}
        wanted |= {f"model ref: {table}.{p['provider']}/{p['model']}" for p in rules.get("model_text_pairs") or ()}
    severity = {e["meta"]["name"]: e["meta"]["severity"] for e in TARGET["expectations"]}
    assert wanted and {name: severity.get(name) for name in wanted} == {name: "error" for name in wanted}


# --------------------------------------------------------------------------- the clean target

def test_target_suite_passes_on_the_migrated_sample(migrated):
    outcome = ex.run_suite(migrated.db, "target", migrated.params)
    assert outcome.passed_errors()
    assert [r.name for r in outcome.results] == TARGET_NAMES
    assert outcome.failed() == []
    assert outcome.skipped() == []                     # every parameter came from the report
    row_count = next(r for r in outcome.results if r.name == "row count: messages")
    assert row_count.observed.startswith(f"{migrated.params['rows_messages']} ")


def test_a_child_that_stays_runs_the_next_request_only_when_handed_it(migrated, tmp_path):
    """The source suites' child stays for the target suite, which the pipeline hands it once
    the indexes are built: between the two it must not exit or touch the database; then it
    reports exactly what running the suite here reports, and exits."""
    first = suites_request(migrated.db, ["target"], None, True)            # no parameters: some skipped
    worker = SuitesInChild(tmp_path, "source", first, then="target")
    following = worker.following()
    try:
        [before] = worker.outcomes()
        assert before.skipped() and following.waiting
        with pytest.raises(subprocess.TimeoutExpired):   # answered, but it stays for the next request
            worker.child.process.wait(timeout=1.0)
        assert not following.result_path.exists()
        following.run(suites_request(migrated.db, ["target"], migrated.params, True))
        assert not following.waiting
        [outcome] = following.outcomes()
        assert worker.child.process.returncode == 0       # it exited after its last answer, and was waited for
    finally:
        worker.stop()
    here = ex.run_suite(migrated.db, "target", migrated.params)
    assert [(r.name, r.success, r.observed) for r in outcome.results] == [(r.name, r.success, r.observed) for r in here.results]
    assert outcome.failed() == [] and outcome.skipped() == [] and len(outcome.results) == len(TARGET_NAMES)


def test_a_child_told_to_follow_another_waits_for_its_result_file(migrated, tmp_path):
    """The source suites' child starts with the snapshot but must not take the second core
    until the usage file's child has written its result."""
    other = tmp_path / "usage-result.json"
    worker = SuitesInChild(tmp_path, "target", suites_request(migrated.db, ["target"], migrated.params, True, after=other))
    try:
        with pytest.raises(subprocess.TimeoutExpired):   # the other is not done: it waits
            worker.child.process.wait(timeout=1.5)
        assert not worker.child.result_path.exists()
        other.write_text("{}")
        [outcome] = worker.outcomes()
    finally:
        worker.stop()
    assert outcome.failed() == [] and len(outcome.results) == len(TARGET_NAMES)


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread CPU priority is Linux's")
def test_while_it_waits_the_child_imports_the_library_at_the_lowest_priority_only_in_that_thread(monkeypatch):
    """The import takes only what the busy cores leave over; the suites themselves, in the
    child's main thread, keep their normal priority."""
    import os
    import threading

    from hive_etl.checks import gx_import, suite_worker

    seen = {}
    monkeypatch.setattr(gx_import, "import_gx", lambda: seen.setdefault(
        "importing", os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=suite_worker._import_at_lowest_priority)
    thread.start()
    thread.join()
    assert seen["importing"] == 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_the_library_is_imported_without_running_scipy_or_altair_until_something_uses_them():
    """More than half of the library's import is scipy.stats and altair, for distribution
    expectations no suite uses: their bodies run only on first use, which still works."""
    code = (
        "import sys\n"
        "from hive_etl.checks.gx_import import import_gx\n"
        "gx = import_gx()\n"
        "print(gx.ExpectationSuite.__name__, 'scipy.stats._stats_py' in sys.modules, 'altair.vegalite' in sys.modules,\n"
        "      any(type(f).__name__ == '_DeferringFinder' for f in sys.meta_path))\n"
        "from scipy import stats\n"
        "import altair\n"
        "print(stats.norm.cdf(0), 'scipy.stats._stats_py' in sys.modules, altair.Chart.__name__)\n")
    assert fresh_python(code).splitlines() == ["ExpectationSuite False False False", "0.5 True Chart"]


def test_the_library_is_imported_with_the_collector_off_and_left_on_with_its_objects_frozen():
    """The import's million objects live as long as the process: they are frozen out of the
    cycle collector's walks, which go on for what comes later (a cycle made after the import
    is still collected), and a failed import leaves the collector as it found it."""
    code = (
        "import gc, sys\n"
        "from hive_etl.checks.gx_import import import_gx\n"
        "sys.modules['great_expectations'] = None\n"
        "try:\n"
        "    import_gx()\n"
        "except ImportError:\n"
        "    print('failed', gc.isenabled(), gc.get_freeze_count())\n"
        "del sys.modules['great_expectations']\n"
        "gx = import_gx()\n"
        "class Node: pass\n"
        "node = Node(); node.me = node; del node\n"
        "print('imported', gc.isenabled(), gc.get_freeze_count() > 100_000, gc.collect() > 0, import_gx() is gx)\n")
    assert fresh_python(code).splitlines() == ["failed True 0", "imported True True True True"]


def test_a_next_request_never_handed_over_is_stopped_not_awaited(migrated, tmp_path):
    worker = SuitesInChild(tmp_path, "source", suites_request(migrated.db, ["target"], None, True), then="target")
    worker.outcomes()
    with pytest.raises(HiveEtlError, match="never sent"):
        worker.following().outcomes()
    assert not worker.child.running()


def test_without_report_figures_parameter_expectations_are_skipped_not_failed(migrated):
    outcome = ex.run_suite(migrated.db, "target")
    skipped = {r.name for r in outcome.skipped()}
    assert skipped == ({f"row count: {t}" for t in SPEC["tables"]}
                       | {f"total conserved: usage_records.{c}" for c in ("cost", "tokens_input", "tokens_output")}
                       | {"no credits stored: values"})
    assert all(r.observed.startswith("skipped: needs parameter") for r in outcome.skipped())
    assert outcome.failed() == [] and outcome.passed_errors()


def test_check_exits_0_on_the_clean_migrated_database(migrated, tmp_path):
    xml = tmp_path / "clean.xml"
    result = run_cli("check", "--db", str(migrated.db), "--report", str(migrated.credit_report), "--junit", str(xml))
    assert result.exit_code == 0, result.output + result.stderr
    assert re.search(rf"^target: {len(TARGET_NAMES)} expectations, {len(TARGET_NAMES)} passed, 0 failed", result.stdout, re.M)
    root = ET.parse(xml).getroot()
    assert root.get("tests") == str(len(TARGET_NAMES)) and root.get("failures") == "0" and root.get("skipped") == "0"
    result = run_cli("check", "--db", str(migrated.db))            # no report: skipped, still 0
    assert result.exit_code == 0, result.stderr
    runtime = [e for e in TARGET["expectations"] if ex.parameters_used(e) - set(ex.builtin_parameters())]
    assert f"SKIPPED {len(runtime)} expectations needing figures from the migration's report.json" in result.stdout


# --------------------------------------------------------------------------- each target expectation, broken

ORPHAN_TEXT, ORPHAN_MODEL_ID = "orphan-planted-by-test", 999999
FIRST_ROW = 'WHERE rowid = (SELECT min(rowid) FROM "{t}")'
EMPTY_TABLE_ROWS = {
    "licenses": "INSERT INTO licenses (key, tier, daily_limit, user_id, validated_at) "
                "VALUES ('HIVE-TEST', 'free', 10, 'u', '2025-01-01T00:00:00.000Z')",
    "consensus_facts": "INSERT INTO consensus_facts VALUES ('f1', 'fp', 'c', 0.9, 'q', NULL, '[]', "
                       "'2025-01-01', '2025-01-01', 0, '[]', '[]', '[]', '{}')",
}


def breakage(name: str) -> list[str]:
    """The SQL that breaks a migrated database in exactly the way `name` guards against."""
    m = re.fullmatch(r"row count: (\w+)", name)
    if m:
        t = m.group(1)
        if t == "usage_records":    # one usage row too many (nothing counted, no cost or tokens)
            return ["INSERT INTO usage_records (id, action_type, cost, tokens_input, tokens_output) "
                    "VALUES ('planted-usage-row', 'model_call', 0, 0, 0)"]
        if t in EMPTY_TABLE_ROWS:
            return [EMPTY_TABLE_ROWS[t]]
        return [f'DELETE FROM "{t}" WHERE rowid = (SELECT max(rowid) FROM "{t}")']
    m = re.fullmatch(r"fk: (\w+)\.(\w+) -> (\w+)\.(\w+)", name)
    if m:
        t, c, parent, _ = m.groups()
        orphan = ORPHAN_MODEL_ID if parent == "openrouter_models" else f"'{ORPHAN_TEXT}'"
        return [f'UPDATE "{t}" SET "{c}" = {orphan} ' + FIRST_ROW.format(t=t)]
    m = re.fullmatch(r"model ref: pipeline_profiles\.(\w+)_provider/\w+_model", name)
    if m:
        stage = m.group(1)
        return [f"UPDATE pipeline_profiles SET {stage}_provider = 'nobody', {stage}_model = 'planted-model' "
                + FIRST_ROW.format(t="pipeline_profiles")]
    m = re.fullmatch(r"model ref: (\w+)\.(\w+)", name)
    if m:
        t, c = m.groups()
        return [f"UPDATE \"{t}\" SET \"{c}\" = 'nobody/planted-model' " + FIRST_ROW.format(t=t)]
    return {
        # canonical still resolves (the text check passes), but the app would send the capitals
        "consensus profile models are catalog ids":
            ["UPDATE consensus_profiles SET generator_model = upper(generator_model) " + FIRST_ROW.format(t="consensus_profiles")],
        "seeded models keep internal_id 1..13": ["UPDATE openrouter_models SET internal_id = 9999 WHERE internal_id = 5"],
        "schema_migrations holds versions 1..13": ["DELETE FROM schema_migrations WHERE version = 9"],
        "known subscription tier: users.subscription_tier":
            ["UPDATE users SET subscription_tier = 'gold' " + FIRST_ROW.format(t="users")],
        "total conserved: usage_records.cost":
            ["UPDATE usage_records SET cost = cost + 0.01 WHERE rowid = (SELECT min(rowid) FROM usage_records WHERE cost IS NOT NULL)"],
        "total conserved: usage_records.tokens_input":
            ["UPDATE usage_records SET tokens_input = tokens_input + 1 WHERE rowid = (SELECT min(rowid) FROM usage_records WHERE tokens_input IS NOT NULL)"],
        "total conserved: usage_records.tokens_output":
            ["UPDATE usage_records SET tokens_output = tokens_output + 1 WHERE rowid = (SELECT min(rowid) FROM usage_records WHERE tokens_output IS NOT NULL)"],
        "no credits stored: names": ["ALTER TABLE licenses ADD COLUMN credits_remaining REAL"],
        "no credits stored: values": [f"INSERT INTO settings (key, value) VALUES ('balance', '{CREDITS}')"],
    }[name]


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_each_target_expectation_fails_on_a_database_broken_that_way(name, migrated, tmp_path):
    broken = tmp_path / "broken.db"
    shutil.copyfile(migrated.db, broken)
    conn = sqlite3.connect(broken)
    for statement in breakage(name):
        assert conn.execute(statement).rowcount != 0 or statement.startswith("ALTER"), statement
    conn.commit()
    conn.close()

    xml = tmp_path / "out.xml"
    result = run_cli("check", "--db", str(broken), "--report", str(migrated.credit_report), "--junit", str(xml))
    assert result.exit_code == 1, result.output + result.stderr
    assert f"ERROR   target: {name} (" in result.stdout
    assert "expectations of severity error failed" in result.stderr or "expectation of severity error failed" in result.stderr
    case = junit_cases(xml)[name]
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "error"
    assert not failure.get("message").split(": ", 1)[1].startswith("error:")   # a finding, not a broken query


# --------------------------------------------------------------------------- the source suites

@pytest.fixture(scope="module")
def source_run(tmp_path_factory):
    ledger = load_generator().generate_install(tmp_path_factory.mktemp("ledger"), seed=SAMPLES["typescript"][1],
                                               variant="typescript")
    before = {p: sha256(p) for p in SAMPLE_DB.parent.iterdir()}
    outcomes = {o.suite: o for o in ex.run_source_suites(SAMPLE_DB, immutable=True)}
    assert {p: sha256(p) for p in SAMPLE_DB.parent.iterdir()} == before    # not a byte, no -wal/-shm
    return outcomes, ledger


def result_of(outcomes, table: str, name: str) -> ex.ExpectationOutcome:
    return next(r for r in outcomes[f"source.{table}"].results if r.name == name)


def unexpected_count(observed: str) -> int:
    return int(re.match(r"(\d+)", observed).group(1))


def test_source_suites_run_cleanly_and_only_warn(source_run):
    outcomes, _ = source_run
    results = [r for o in outcomes.values() for r in o.results]
    assert all(o.passed_errors() for o in outcomes.values())
    assert {r.severity for r in results} == {"warning"}
    assert [r.name for r in results if r.observed.startswith("error:")] == []     # every query ran
    assert [r.name for r in results if r.success is None] == []                   # every table and column present


def test_planted_check_violations_and_unknown_tiers_are_warnings(source_run):
    outcomes, ledger = source_run
    for bad in ledger["check_violations"]:
        if f"source.{bad['table']}" in outcomes:
            r = result_of(outcomes, bad["table"], f"allowed values: {bad['table']}.{bad['column']}")
            assert r.success is False and r.severity == "warning" and bad["value"] in r.observed
    r = result_of(outcomes, "users", "known tier: users.tier")
    assert r.success is False and unexpected_count(r.observed) == len(ledger["unknown_tiers"])
    assert all(user in r.observed for user in ledger["unknown_tiers"])


def test_planted_orphans_are_counted_exactly(source_run):
    outcomes, ledger = source_run
    checked = 0
    for where, pks in ledger["orphans"].items():
        table, column = where.split(".")
        names = [r.name for r in outcomes.get(f"source.{table}", ex.SuiteOutcome("", [])).results
                 if r.name.startswith(f"parent exists: {table}.{column} ->")]
        for name in names:
            r = result_of(outcomes, table, name)
            assert r.success is False and unexpected_count(r.observed) == len(pks), (where, r.observed)
            checked += 1
    assert checked >= 8
    r = result_of(outcomes, "messages", "parent exists: messages.conversation_id -> conversations.id")
    assert unexpected_count(r.observed) == len(ledger["orphan_messages"])


def test_planted_unreadable_values_unknown_models_and_duplicates_are_warnings(source_run):
    outcomes, ledger = source_run
    for bad in ledger["unparseable_timestamps"]:
        if f"source.{bad['table']}" in outcomes:
            r = result_of(outcomes, bad["table"], f"timestamp readable: {bad['table']}.{bad['column']}")
            assert r.success is False and str(bad["value"]) in r.observed, bad
    for bad in ledger["unparseable_numbers"]:
        r = next(r for r in outcomes[f"source.{bad['table']}"].results
                 if r.name.startswith("number in") and r.name.endswith(f": {bad['table']}.{bad['column']}"))
        assert r.success is False and bad["value"] in r.observed
    unknown = " ".join(result_of(outcomes, t, f"model known: {t}.model_used").observed
                       for t in ("messages", "usage_records", "activity_log"))
    assert all(model in unknown for model in ledger["distinct_unknown_model_ids"])
    r = result_of(outcomes, "openrouter_models", "canonical id unique: openrouter_models.openrouter_id")
    assert r.success is False and all(model in r.observed for model in ledger["canonical_duplicate_models"])
    r = result_of(outcomes, "openrouter_models", "canonical id: openrouter_models.openrouter_id")
    assert unexpected_count(r.observed) == len(ledger["noncanonical_catalog_ids"])


def test_a_key_repeated_in_a_drifted_source_is_named_once_with_its_rows(tmp_path):
    """A source whose table lost its PRIMARY KEY can hold a key twice: `unique:` names each
    repeated value once, with how many rows hold it; NULL keys are the not-null check's."""
    db = tmp_path / "drifted.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE messages (id TEXT, conversation_id TEXT, role TEXT, content TEXT, "
                 "stage TEXT, model_used TEXT, timestamp TEXT)")
    conn.executemany("INSERT INTO messages (id, conversation_id, role, content) VALUES (?, 'c1', 'user', 'hi')",
                     [("m-1",), ("m-2",), ("m-1",), ("m-3",), ("m-1",), ("m-3",), (None,), (None,)])
    conn.commit()
    conn.close()
    outcome = next(o for o in ex.run_source_suites(db, immutable=True) if o.suite == "source.messages")
    r = next(r for r in outcome.results if r.name == "unique: messages.id")
    assert r.success is False and r.severity == "warning"
    assert unexpected_count(r.observed) == 2
    assert '"id": "m-1", "rows": 3' in r.observed and '"id": "m-3", "rows": 2' in r.observed and "m-2" not in r.observed


def test_check_source_on_the_desktop_fixture_warns_exits_0_and_leaves_it_alone(tmp_path):
    home = SAMPLES["desktop"][0]
    db = home / ".hive" / "hive-ai.db"            # WAL mode: a read-only open would leave -wal/-shm
    before = {p: sha256(p) for p in db.parent.iterdir()}
    xml = tmp_path / "source.xml"
    result = run_cli("check", "--db", str(db), "--suite", "source", "--junit", str(xml))
    assert result.exit_code == 0, result.stderr
    assert "WARNING source.activity_log: allowed values: activity_log.event_type" in result.stdout
    assert re.search(r"^10 suites: \d+ expectations, \d+ passed, \d+ failed \(0 error, \d+ warning\)", result.stdout, re.M)
    assert {p: sha256(p) for p in db.parent.iterdir()} == before
    suites = [s.get("name") for s in ET.parse(xml).getroot().iter("testsuite")]
    assert suites == ex.source_suites()


# --------------------------------------------------------------------------- engine pieces

ALPHABET = ["a", "B", "z", "/", "-", ".", "4", ":", " ", "\t", "\x1f", ":nitro", ":FREE", ":free", " :beta",
            ":extended", "Anthropic/Claude-3-5-Sonnet", "openai/gpt-4-turbo-preview", "google/gemini-1.5-pro",
            "\u00a0", "\u3000", "É", "ß", "İ", "Ω", "模型"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=6).map("".join), min_size=1, max_size=8))
def test_suites_canonicalise_references_as_the_pipeline_does_whatever_their_characters(raws):
    aliases = shipped_aliases()
    conn = sqlite3.connect(":memory:")
    ex.register_sql_functions(conn)
    conn.execute("CREATE TABLE openrouter_models (openrouter_id TEXT)")
    values = ", ".join("(?)" for _ in raws)
    query = (f"WITH RECURSIVE refs(raw) AS (VALUES {values}), {ex.CANONICAL_CTES} "
             "SELECT raw, id FROM hive_canonical WHERE kind = 'ref'")
    got = dict(conn.execute(query, raws).fetchall())
    assert got == {raw: canonicalise(raw, aliases).id for raw in raws if raw.strip()}


def test_a_reference_only_a_non_ascii_or_non_text_spelling_leaves_unresolved_fails_the_target_suite(migrated, tmp_path):
    """References the suite once left to a hand-written check: a non-ASCII unknown model and a
    number where a model id belongs are errors of the suite itself; a known model spelled
    with Unicode blanks and capitals still resolves."""
    broken = tmp_path / "broken.db"
    shutil.copyfile(migrated.db, broken)
    conn = sqlite3.connect(broken)
    known = conn.execute("SELECT openrouter_id FROM openrouter_models WHERE internal_id = 1").fetchone()[0]
    rows = [r for (r,) in conn.execute("SELECT rowid FROM messages ORDER BY rowid LIMIT 3")]
    for rowid, value in zip(rows, ["nobödy/plänted-modél", 42, f"\u00a0{known.upper()}:nitro\u3000"]):
        conn.execute("UPDATE messages SET model_used = ? WHERE rowid = ?", (value, rowid))
    conn.commit()
    conn.close()

    outcome, = ex.run_suites(broken, ["target"], only=["model ref: messages.model_used"])
    result, = outcome.results
    assert result.success is False
    assert "nobödy/plänted-modél" in result.observed and "42" in result.observed
    assert known.upper() not in result.observed


def test_parameters_from_report_fresh_merged_and_credits():
    seeded = {t: len(rows) for t, rows in SPEC["fresh_database_rows"].items()}
    report = {"tables": {"openrouter_models": {"read": 5, "inserted": 3, "merged": 2, "duplicates": 0, "quarantined": 0, "created": 1}},
              "totals": {"cost": {"source": 2.5, "target": 2.0, "quarantined": 0.5}},
              "target": {"path": "x"}, "notes": [{"file": "subscription_cache.json", "credits_remaining": 12}]}
    params = ex.parameters_from_report(report)
    assert params["rows_openrouter_models"] == seeded["openrouter_models"] + 3 + 1
    assert params["rows_messages"] == 0 and params["rows_consensus_profiles"] == seeded["consensus_profiles"]
    assert params["total_cost"] == 2.0 and params["credits_remaining"] == [12.0]
    report["tables"]["openrouter_models"]["before"] = 40
    assert ex.parameters_from_report(report)["rows_openrouter_models"] == 44
    del report["tables"]["openrouter_models"]["before"]
    report["target"]["merged"] = True            # an existing target without before-counts
    assert not [k for k in ex.parameters_from_report(report) if k.startswith("rows_")]


def test_colons_are_escaped_only_where_sqlalchemy_would_bind():
    assert ex.escape_colons("x LIKE '%:nitro' AND t = 'at :30'") == "x LIKE '%\\:nitro' AND t = 'at \\:30'"
    assert ex.escape_colons("a::b, :x:, ab:c") == "a::b, :x:, ab:c"


def test_junit_marks_failures_with_severity_and_skips():
    outcome = ex.SuiteOutcome("target", [
        ex.ExpectationOutcome("a", "t", "c", "error", True, "0 rows", "why", "tab"),
        ex.ExpectationOutcome("b", "t", "c", "warning", False, "2 rows: x", "why", "tab"),
        ex.ExpectationOutcome("c", "t", None, "error", None, "skipped: needs parameter p", "why", "tab"),
    ])
    root = junit_tree([outcome]).getroot()
    suite = root.find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("target", "3", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["a"].find("failure") is None and cases["a"].find("skipped") is None
    assert cases["b"].find("failure").get("type") == "warning" and "2 rows: x" in cases["b"].find("failure").get("message")
    assert cases["c"].find("skipped").get("message").startswith("skipped:")
    assert outcome.passed_errors()                      # the failed one is a warning


def test_counting_first_gives_the_same_outcomes_and_data_docs_runs_show_the_library_expectation(migrated):
    counted = ex.run_suite(migrated.db, "target", migrated.params)
    plain = ex.run_suites(migrated.db, ["target"], migrated.params, count_first=False)[0]
    assert [(r.name, r.success, r.observed) for r in counted.results] == [(r.name, r.success, r.observed) for r in plain.results]
    types = lambda outcome: {r.expectation_config.type for run in outcome.validation_results for r in run.results}  # noqa: E731
    assert ex.ROWS_ONLY in types(counted) and ex.UNEXPECTED_ROWS not in types(counted)
    assert ex.ROWS_ONLY not in types(plain) and ex.UNEXPECTED_ROWS in types(plain)


def test_expectations_counted_first_keep_their_samples_where_they_fail():
    names = ex.source_suites()
    counted = ex.run_suites(SAMPLE_DB, names, immutable=True)
    plain = ex.run_suites(SAMPLE_DB, names, immutable=True, count_first=False)
    outcomes = lambda runs: [(r.name, r.success, r.observed) for o in runs for r in o.results]  # noqa: E731
    assert outcomes(counted) == outcomes(plain)
    failed = [r for o in counted for r in o.results if r.success is False and r.expectation_type.startswith("expect_column_values_")]
    assert failed and all(", e.g. [" in r.observed and r.observed.split(", e.g. ")[1] != "[]" for r in failed)
    # unexpected-rows expectations: one query each, for their rows (none has 200 here, so
    # none is counted apart), the failed ones with their samples
    failed_rows = [r for o in counted for r in o.results if r.success is False and r.expectation_type == ex.UNEXPECTED_ROWS]
    assert failed_rows and all(" row" in r.observed and ": " in r.observed for r in failed_rows)
    ran = [(r.expectation_config.type, r.expectation_config.meta["name"]) for o in counted for run in o.validation_results for r in run.results]
    run_rows = [r.name for o in counted for r in o.results if r.expectation_type == ex.UNEXPECTED_ROWS and not r.observed.startswith("skipped")]
    assert sorted(n for t, n in ran if t == ex.ROWS_ONLY) == sorted(run_rows)
    assert not {ex.UNEXPECTED_ROWS, ex.COUNT_ONLY} & {t for t, _ in ran}


def test_expectations_with_more_unexpected_rows_than_are_fetched_are_counted(tmp_path):
    # 250 messages of a conversation that does not exist: more than the library fetches (200),
    # so their number comes from a count, and the samples from the rows fetched again.
    db = tmp_path / "hive-ai.db"
    shutil.copyfile(SAMPLE_DB, db)
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO messages (id, conversation_id, role, content, timestamp) VALUES (?, 'gone', 'user', 'hi', "
                    "'2024-01-04T00:56:37.000Z')", [(f"orphan-{i}",) for i in range(250)])
    orphans = con.execute("SELECT count(*) FROM messages AS m WHERE NOT EXISTS "
                          "(SELECT 1 FROM conversations AS c WHERE c.id = m.conversation_id)").fetchone()[0]
    con.commit()
    con.close()
    counted = ex.run_suites(db, ["source.messages"], immutable=True)[0]
    plain = ex.run_suites(db, ["source.messages"], immutable=True, count_first=False)[0]
    assert [(r.name, r.success, r.observed) for r in counted.results] == [(r.name, r.success, r.observed) for r in plain.results]
    name = "parent exists: messages.conversation_id -> conversations.id"
    assert next(r for r in counted.results if r.name == name).observed.startswith(f"{orphans} rows (first 5): ")
    ran = [(r.expectation_config.type, r.expectation_config.meta["name"]) for run in counted.validation_results for r in run.results]
    assert [t for t, n in ran if n == name] == [ex.ROWS_ONLY, ex.COUNT_ONLY, ex.ROWS_ONLY]
    assert {n for t, n in ran if t == ex.COUNT_ONLY} == {name}


def test_data_docs_are_built_from_outcomes(migrated, tmp_path):
    outcomes = ex.run_suites(migrated.db, ["target"], migrated.params,
                             only=["row count: users", "fk: messages.conversation_id -> conversations.id"])
    assert [r.name for r in outcomes[0].results] == ["row count: users", "fk: messages.conversation_id -> conversations.id"]
    index = ex.build_data_docs(outcomes, tmp_path / "docs")
    assert index.is_file() and list((tmp_path / "docs" / "validations").rglob("*.html"))


# --------------------------------------------------------------------------- command line

@pytest.mark.parametrize("args, message", [
    (["--db", "/no/such/hive-ai.db"], "no such file"),
    (["--db", str(REPO / "README.md")], "not a SQLite database"),
    (["--db", str(SAMPLE_DB), "--suite", "nope"], "--suite nope: no such suite"),
    (["--db", str(SAMPLE_DB), "--report", str(REPO / "README.md")], "cannot be read as JSON"),
])
def test_check_refuses_bad_input_with_exit_2_and_one_line(args, message):
    result = run_cli("check", *args)
    assert result.exit_code == 2
    assert result.stdout == "" and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_importing_the_cli_or_asking_for_help_does_not_import_great_expectations():
    code = ("import sys\n"
            "import hive_etl.cli, hive_etl.checks.expectations, hive_etl.checks.junit\n"
            "from click.testing import CliRunner\n"
            "for args in (['--help'], ['check', '--help']):\n"
            "    assert CliRunner().invoke(hive_etl.cli.main, args).exit_code == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('great_expectations', 'sqlalchemy', 'pandas')))\n")
    assert fresh_python(code).strip() == "[]"


def test_parameters_from_context_match_the_report(migrated):
    from datetime import datetime, timezone

    from hive_etl.context import RunContext, TableCounts

    report = json.loads(migrated.report_path.read_text())
    ctx = RunContext(source=SAMPLE_DB, target=migrated.db, home=SAMPLE_HOME, report_dir=migrated.report_dir,
                     now=datetime.now(timezone.utc))
    ctx.tables = {name: TableCounts(**counts) for name, counts in report["tables"].items()}
    ctx.totals = report["totals"]
    ctx.target_rows_before = {t: len(rows) for t, rows in SPEC["fresh_database_rows"].items()}
    assert ex.parameters_from_context(ctx, credits=[CREDITS]) == migrated.params


def test_a_path_with_spaces_question_marks_and_percent_signs_is_opened(migrated, tmp_path):
    folder = tmp_path / "my files? #1 100%"
    folder.mkdir()
    db = folder / "hive ai.db"
    shutil.copyfile(migrated.db, db)
    outcome = ex.run_suite(db, "target", migrated.params, only=["row count: messages", "seeded models keep internal_id 1..13"])
    assert [r.status for r in outcome.results] == ["passed", "passed"], [r.observed for r in outcome.results]
    assert sorted(p.name for p in folder.iterdir()) == ["hive ai.db"]


def test_a_suite_runs_with_the_page_cache_its_meta_asks_for(migrated, monkeypatch):
    # The target suite asks for 32 MB (its foreign-key probes); a suite that asks nothing keeps
    # SQLite's own 2 MB (cache_size -2000), even after one that asked in the same process.
    assert TARGET["meta"]["page_cache_kib"] == 32768

    def suite(name: str) -> dict:
        kib = int(name.removeprefix("cache"))
        expected = -kib if kib else -2000
        return {"name": name, "meta": {"absent": "fail", "table": "users", **({"page_cache_kib": kib} if kib else {})},
                "expectations": [{"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": (
                    f"SELECT p.cache_size FROM pragma_cache_size AS p WHERE p.cache_size <> {expected} "
                    "AND EXISTS (SELECT 1 FROM {batch})")},
                    "meta": {"name": f"page cache {expected}", "severity": "error", "why": "the suite's meta"}}]}

    monkeypatch.setattr(ex, "load_suite", suite)
    for name in ("cache8192", "cache0", "cache4096"):
        outcome = ex.run_suites(migrated.db, [name], immutable=True)[0]
        assert [r.status for r in outcome.results] == ["passed"], (name, [r.observed for r in outcome.results])
