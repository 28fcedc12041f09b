"""Usage records of the usage file that repeat a usage row already known (the source's, or the
target's when merging) are dropped before the load, however their numbers and instants are
spelled; records that differ in anything the content key covers stay."""

import json
import sqlite3
import time
from contextlib import closing
from datetime import datetime, timezone

import pytest

from conftest import SAMPLES, Run, run_cli
from hive_etl import pipeline
from hive_etl.child_process import write_whole
from hive_etl.extract import usage_file
from hive_etl.context import RunContext
from hive_etl.extract.json_staging import create_staging
from hive_etl.load import legacy_json
from hive_etl.sqlite_files import file_uri, table_names

COLUMNS = ("id", "user_id", "conversation_id", "action_type", "cost", "tokens_input", "tokens_output",
           "model_used", "timestamp")
ROW = {"id": "t1", "user_id": "u1", "conversation_id": "c1", "action_type": "model_call", "cost": 0.25,
       "tokens_input": 10, "tokens_output": 20, "model_used": "openai/gpt-4o", "timestamp": "2025-03-01T10:00:00.000Z"}


def _dedup(tmp_path, target_rows: list[dict], records: list[dict], calls: list | None = None) -> set[str]:
    """Run the de-duplication over `records` staged from the usage file, with `target_rows` in a
    target being merged into (columns without type affinity: a drifted build may hold text);
    return the ids of the records that remain."""
    conn = sqlite3.connect(tmp_path / "build.db", isolation_level=None)
    conn.execute(f"CREATE TABLE usage_records ({', '.join(COLUMNS)})")
    conn.execute("ATTACH DATABASE ? AS json", (str(tmp_path / "json.db"),))
    create_staging(conn, "usage_records", schema="json")
    for row in target_rows:
        conn.execute(f"INSERT INTO main.usage_records VALUES ({', '.join('?' * len(COLUMNS))})", [row[c] for c in COLUMNS])
    for n, row in enumerate(records):
        conn.execute(f"INSERT INTO json.usage_records VALUES ({', '.join('?' * (len(COLUMNS) + 2))})",
                     [row[c] for c in COLUMNS] + [f"$.records[{n}]", n + 1])
    ctx = RunContext(source=tmp_path / "hive-ai.db", target=tmp_path / "out.db", home=tmp_path,
                     report_dir=tmp_path / "report", now=datetime.now(timezone.utc))
    ctx.conn, ctx.target_rows_before = conn, {"usage_records": len(target_rows)}
    legacy_json.prepare(ctx)
    if calls is not None:   # count the content keys computed in Python

        def counted(*values):
            calls.append(values)
            return legacy_json._usage_id(*values)

        conn.create_function("hive_usage_id", len(legacy_json.USAGE_COLUMNS), counted, deterministic=True)
    removed = legacy_json._drop_usage_duplicates(ctx)
    left = {r[0] for r in conn.execute("SELECT id FROM json.usage_records")}
    assert removed == len(records) - len(left)
    return left


def test_a_record_equal_by_content_is_dropped_however_spelled(tmp_path):
    records = [{**ROW, "id": "same"},
               {**ROW, "id": "same-instant", "timestamp": "2025-03-01 10:00:00"},
               {**ROW, "id": "cost-as-text", "cost": "0.25"},
               {**ROW, "id": "other-tokens", "tokens_output": 21},
               {**ROW, "id": "other-conversation", "conversation_id": "c2"},
               {**ROW, "id": "other-instant", "timestamp": "2025-03-01T10:00:00.001Z"},
               {**ROW, "id": "other-model", "model_used": "openai/gpt-4o-mini"}]
    assert _dedup(tmp_path, [ROW], records) == {"other-tokens", "other-conversation", "other-instant", "other-model"}


def test_a_known_row_holding_its_numbers_as_text_still_matches(tmp_path):
    texty = {**ROW, "cost": "0.25", "tokens_input": "10"}
    records = [{**ROW, "id": "same"}, {**ROW, "id": "other-cost", "cost": 0.5}]
    assert _dedup(tmp_path, [texty], records) == {"other-cost"}


def test_rows_without_a_conversation_match_each_other_only_by_content(tmp_path):
    lone = {**ROW, "conversation_id": None}
    records = [{**lone, "id": "same"}, {**lone, "id": "other-cost", "cost": 1.0}, {**ROW, "id": "with-conversation"}]
    assert _dedup(tmp_path, [lone], records) == {"other-cost", "with-conversation"}


def test_nothing_known_drops_nothing(tmp_path):
    assert _dedup(tmp_path, [], [{**ROW, "id": "a"}]) == {"a"}


def test_many_rows_sharing_conversation_cost_and_tokens_cost_one_key_each_at_most(tmp_path):
    """Sync rows: no conversation, no cost, no tokens, only the instant differs. Pairing each
    known row with each record of the same numbers would be quadratic; each row's key is
    computed once at most."""
    def sync(n, prefix):
        return {**ROW, "id": f"{prefix}{n}", "conversation_id": None, "cost": 0.0, "tokens_input": 0, "tokens_output": 0,
                "action_type": "sync", "timestamp": f"2025-03-01T10:{n // 60 % 60:02d}:{n % 60:02d}.000Z"}

    known = [sync(n, "t") for n in range(0, 600, 2)]             # every even second
    records = [sync(n, "r") for n in range(3000)]                 # every second: the even ones repeat a known row
    calls = []
    left = _dedup(tmp_path, known, records, calls)
    assert left == {f"r{n}" for n in range(3000) if n % 2 or n >= 600}
    assert len(calls) <= len(known) + len(records)


def test_the_known_rows_listed_while_the_usage_file_is_read_are_those_the_load_compares_with(migrate, monkeypatch):
    """transform.known_usage lists the usage rows before the usage file's child is awaited;
    that is only right if nothing writes usage_records between it and the de-duplication.
    The pipeline's way is pinned: the child is not offered the source's rows, or it could
    claim the de-duplication first (a race the sample install's small file can win)."""
    seen = {}
    listing, loading = pipeline.STAGES["transform.known_usage"], pipeline.STAGES["load.legacy_json"]

    def rows(ctx):
        return ctx.conn.execute("SELECT * FROM main.usage_records ORDER BY rowid").fetchall()

    def list_early(ctx):
        listing(ctx)
        seen["listed"], seen["at listing"] = "usage_known" in table_names(ctx.conn, "temp"), rows(ctx)
        seen["known"] = ctx.conn.execute("SELECT count(*) FROM temp.usage_known").fetchone()[0]

    def load(ctx):
        seen["at load"] = rows(ctx)
        loading(ctx)

    monkeypatch.setitem(pipeline.STAGES, "transform.offer_known_usage", lambda ctx: None)
    monkeypatch.setitem(pipeline.STAGES, "transform.known_usage", list_early)
    monkeypatch.setitem(pipeline.STAGES, "load.legacy_json", load)
    run = migrate(SAMPLES["typescript"][0])
    assert run.exit_code == 0, run.stderr
    assert seen["listed"] is True and seen["known"] > 0
    assert seen["at listing"] == seen["at load"]
    usage = run.report["sources"]["usage-monitor.json"]
    assert usage["duplicates"] > usage["repeated_in_file"]   # records equal to a database row were found


def _migrated(tmp_path, name: str):
    target = tmp_path / name / "hive-ai.db"
    target.parent.mkdir()
    result = run_cli("migrate", "--home", str(SAMPLES["typescript"][0]), "--target", str(target),
                     "--report-dir", str(tmp_path / name / "report"))
    return Run(result, tmp_path / name / "report", target)


def _usage_outcome(run: Run):
    assert run.exit_code == 0, run.stderr
    with closing(run.db()) as db:
        rows = db.execute("SELECT * FROM usage_records ORDER BY id").fetchall()
    report = run.report
    return rows, report["sources"]["usage-monitor.json"], report["tables"]["usage_records"]


def _child_first(monkeypatch, offer, claimed: dict) -> None:
    """Stages as the child's way goes: the offer (`offer`) made before the child starts, and
    the child done before the pipeline lists anything; `claimed` says who claimed it."""
    stages = dict(pipeline.STAGES)

    def after_the_child(ctx):
        job = ctx.background["usage_file"]
        while not job.result_path.exists() and job.child.running():
            time.sleep(0.02)
        stages["transform.known_usage"](ctx)
        claimed["by"] = (ctx.work_dir / usage_file.CLAIM).read_text()
        claimed["known listed here"] = "usage_known" in table_names(ctx.conn, "temp")

    order = pipeline.stage_names("migrate")
    order.remove("extract.start_usage_file")
    order.insert(order.index("transform.offer_known_usage") + 1, "extract.start_usage_file")
    monkeypatch.setattr(pipeline, "stage_names", lambda name: order)
    monkeypatch.setitem(pipeline.STAGES, "transform.offer_known_usage", offer)
    monkeypatch.setitem(pipeline.STAGES, "transform.known_usage", after_the_child)


def test_the_usage_files_child_drops_the_records_the_pipeline_would(tmp_path, monkeypatch):
    """The de-duplication goes to whichever side comes to it first: the usage file's child
    once its records are sorted, if the pipeline has not listed the known rows yet. Either
    way the same records are dropped and counted."""
    offer = pipeline.STAGES["transform.offer_known_usage"]

    # The pipeline's way: the child is never offered the source's usage rows.
    monkeypatch.setitem(pipeline.STAGES, "transform.offer_known_usage", lambda ctx: None)
    by_pipeline = _usage_outcome(_migrated(tmp_path, "pipeline"))

    # The child's way: offered before it starts, and done before the pipeline lists anything.
    claimed = {}
    _child_first(monkeypatch, offer, claimed)
    by_child = _usage_outcome(_migrated(tmp_path, "child"))

    assert claimed == {"by": "usage file's child", "known listed here": False}
    assert by_child == by_pipeline
    assert by_child[1]["duplicates"] > by_child[1]["repeated_in_file"]   # records equal to a database row were dropped


def test_an_sqlite_failure_in_the_childs_de_duplication_is_said_as_such(tmp_path, monkeypatch):
    """SQLite failing in the child's de-duplication (here: the snapshot it is offered cannot
    be opened) stops the run as the pipeline's own SQLite failures do (exit 3), naming the
    step; the usage file, which was read whole, is not blamed, and nothing is written."""
    def offer_a_missing_snapshot(ctx):
        write_whole(ctx.work_dir / usage_file.OFFER, json.dumps(
            {"source": file_uri(tmp_path / "gone" / "hive-ai.db", "mode=ro"), "columns": ctx.source_columns["usage_records"]}))

    claimed = {}
    _child_first(monkeypatch, offer_a_missing_snapshot, claimed)
    run = _migrated(tmp_path, "broken")
    assert claimed["by"] == "usage file's child"
    assert run.exit_code == 3, run.stderr
    assert "could not be de-duplicated against the source's usage rows" in run.stderr
    assert "unable to open database" in run.stderr
    assert "could not be read" not in run.stderr
    assert not run.target.exists()


def test_a_failure_while_the_child_lists_the_known_rows_is_raised_not_taken_for_no_duplicates(tmp_path, monkeypatch):
    """The known rows are listed in a thread of the usage file's child: whatever stops it
    there is raised when the records are to be dropped, so the child never reports that
    nothing was dropped when nothing was compared."""
    offer, work = tmp_path / usage_file.OFFER, tmp_path / "work"
    work.mkdir()
    write_whole(offer, json.dumps({"source": str(tmp_path / "source.db"), "columns": list(COLUMNS)}))

    def broken(*args, **kwargs):
        raise ValueError("not a list")

    monkeypatch.setattr(legacy_json, "list_known", broken)
    dedup = usage_file._ChildDedup({"json_db": str(work / "json.db"), "awaited": str(work / "awaited"),
                                    "offer": str(offer), "claim": str(work / usage_file.CLAIM)})
    assert dedup.leave_unsorted() is False
    with pytest.raises(ValueError, match="not a list"):
        dedup.drop()
