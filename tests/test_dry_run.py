"""`hive-etl dry-run`: the whole pipeline into a scratch database, a report, and nothing else."""

import hashlib
import json
import shutil

import pytest

from conftest import SAMPLES, run_cli
from hive_etl import pipeline
from hive_etl.pipeline import stage_names


def tree_hashes(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_dry_run_reports_what_migrate_does_and_touches_nothing(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(SAMPLES["typescript"][0], home)
    before = tree_hashes(home)
    result = run_cli("dry-run", "--home", str(home), "--report-dir", str(tmp_path / "dry"))
    assert result.exit_code == 0, result.stderr
    assert tree_hashes(home) == before
    assert sorted(p.name for p in (tmp_path / "dry").glob("report.*")) == ["report.html", "report.json", "report.md"]
    dry = json.loads((tmp_path / "dry" / "report.json").read_text())
    assert dry["outcome"] == "dry_run" and dry["target"]["swapped_in"] is False and dry["target"]["backup"] is None
    assert all(check["ok"] for check in dry["checks"])

    result = run_cli("migrate", "--home", str(home), "--report-dir", str(tmp_path / "real"))
    assert result.exit_code == 0, result.stderr
    real = json.loads((tmp_path / "real" / "report.json").read_text())
    assert dry["tables"] == real["tables"] and dry["totals"] == real["totals"]
    assert [m["internal_id"] for m in dry["models"]] == [m["internal_id"] for m in real["models"]]


def test_dry_run_with_default_report_folder_adds_only_the_report(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(SAMPLES["desktop"][0], home)
    before = tree_hashes(home)
    result = run_cli("dry-run", "--home", str(home))
    assert result.exit_code == 0, result.stderr
    after = tree_hashes(home)
    added = {name for name in after if name not in before}
    assert {name: after[name] for name in before} == before
    assert added and all(name.startswith(".hive/migration-reports/") for name in added)


def test_dry_run_refuses_bad_input_like_migrate(tmp_path):
    (tmp_path / "home" / ".hive").mkdir(parents=True)
    (tmp_path / "home" / ".hive" / "hive-ai.db").write_text("not a database")
    result = run_cli("dry-run", "--home", str(tmp_path / "home"))
    assert result.exit_code == 2 and "not a SQLite database" in result.stderr
    assert not (tmp_path / "home" / ".hive" / "migration-reports").exists()


def test_dry_run_runs_the_migration_stages_except_the_flush_and_the_swap():
    swap = ("load.start_flush", "load.finalise_and_swap")
    assert stage_names("dry_run") == [s for s in stage_names("migrate") if s not in swap]


@pytest.mark.parametrize("start, wait", sorted(pipeline.AWAITED_BY.items()))
def test_a_pipeline_that_starts_work_beside_it_must_await_it(monkeypatch, start, wait):
    """The source's quick_check runs in a thread from the snapshot on; a pipeline that never
    awaits it would swap in a database built from a damaged source. The same holds for the
    report's figures and the flush of the build file."""
    stages = [s for s in stage_names("migrate") if s != wait]
    monkeypatch.setattr(pipeline, "pipeline_file", lambda name: {"stages": stages})
    with pytest.raises(ValueError, match=f"{start} must be followed by {wait}"):
        stage_names("custom")


def test_expectation_suites_run_in_the_pipeline_and_data_docs_on_request(tmp_path):
    result = run_cli("dry-run", "--home", str(SAMPLES["typescript"][0]), "--report-dir", str(tmp_path / "r"), "--data-docs")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    suites = {e["suite"] for e in report["expectations"]}
    assert "target" in suites and any(s.startswith("source.") for s in suites)
    assert all(e["status"] != "failed" for e in report["expectations"] if e["severity"] == "error")
    # the planted dirt shows up as source warnings, without stopping the run
    assert any(e["status"] == "failed" and e["suite"] == "source.activity_log" for e in report["expectations"])
    assert (tmp_path / "r" / "data-docs").is_dir() and list((tmp_path / "r" / "data-docs").rglob("index.html"))


def test_an_orphan_in_the_build_stops_the_swap(tmp_path, monkeypatch):
    """Foreign keys are proven by the target suite alone (no PRAGMA foreign_key_check among the
    post-load checks): a row whose parent is gone, made after every load stage, must still stop
    the migration before anything is swapped in, named by its fk: expectation."""
    from hive_etl.stages import STAGES

    archive_unmapped = STAGES["load.archive_unmapped"]

    def and_orphan_a_message(ctx):
        archive_unmapped(ctx)
        ctx.conn.execute("UPDATE main.messages SET conversation_id = 'no-such-conversation' "
                         "WHERE rowid = (SELECT min(rowid) FROM main.messages)")

    monkeypatch.setitem(STAGES, "load.archive_unmapped", and_orphan_a_message)
    home = tmp_path / "home"
    shutil.copytree(SAMPLES["typescript"][0], home)
    before = tree_hashes(home)
    result = run_cli("migrate", "--home", str(home), "--report-dir", str(tmp_path / "r"))
    assert result.exit_code == 1
    assert "fk: messages.conversation_id -> conversations.id" in result.stderr and "nothing was swapped in" in result.stderr
    assert tree_hashes(home) == before
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    failed = [check for check in report["checks"] if not check["ok"]]
    assert report["outcome"] == "checks_failed" and [c["name"] for c in failed] == ["target expectations: target"]
    assert '"conversation_id": "no-such-conversation"' in failed[0]["detail"]


def test_a_failed_target_expectation_stops_the_swap(tmp_path, monkeypatch):
    from hive_etl.checks import expectations

    real = expectations.parameters_from_context

    def broken(ctx, credits=None):
        return {**real(ctx, credits=credits), "rows_users": 999}   # the suite now expects 999 users

    monkeypatch.setattr(expectations, "parameters_from_context", broken)
    home = tmp_path / "home"
    shutil.copytree(SAMPLES["typescript"][0], home)
    before = tree_hashes(home)
    result = run_cli("migrate", "--home", str(home), "--report-dir", str(tmp_path / "r"))
    assert result.exit_code == 1 and "row count: users" in result.stderr and "nothing was swapped in" in result.stderr
    assert tree_hashes(home) == before
    assert json.loads((tmp_path / "r" / "report.json").read_text())["outcome"] == "checks_failed"
