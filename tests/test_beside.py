"""Work that reads the build beside the last index builds: once every row is loaded, the
target suite (in the suites' child) and the report's figures (in a thread) start, and the
build switches to WAL so they can read it while the pipeline writes the remaining indexes.
The swapped-in file must be whole by itself, and hold what they read."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from types import SimpleNamespace

import pytest

from conftest import SAMPLES
from hive_etl import pipeline
from hive_etl.load.swap import finalise_build
from hive_etl.report import figures
from hive_etl.schema import index_statements, target_spec
from hive_etl.sqlite_files import wants_immutable
from test_index_stages import _digest


def test_the_target_suite_reads_beside_the_last_index_builds_and_the_file_alone_holds_them(migrate, monkeypatch, tmp_path):
    """The target suite starts before load.build_indexes: the build is in WAL mode by then, so
    its child reads every committed row while the indexes are written; the swapped-in file must
    still hold every index itself, with nothing left in a -wal beside it."""
    seen, rows = {}, {}
    late = pipeline.STAGES["load.build_indexes"]

    def index_late(ctx):
        seen["target suite sent"] = not ctx.background["target"].waiting
        seen["read as immutable"] = wants_immutable(ctx.build_path)   # its -wal is there before any write
        reader = sqlite3.connect(f"file:{ctx.build_path}?mode=ro", uri=True, isolation_level=None)
        reader.execute("BEGIN")
        seen["mode"] = reader.execute("PRAGMA journal_mode").fetchone()[0]
        seen["before"] = reader.execute("SELECT count(*) FROM messages").fetchone()[0]
        rows["when the suite started"] = _digest(reader, target_spec()["tables"])
        late(ctx)      # writes while the reader holds its snapshot: WAL lets both go on
        seen["reader saw"] = reader.execute("SELECT count(*) FROM messages").fetchone()[0]
        reader.execute("COMMIT")
        reader.close()

    monkeypatch.setitem(pipeline.STAGES, "load.build_indexes", index_late)
    run = migrate(SAMPLES["typescript"][0])
    assert run.exit_code == 0, run.stderr
    assert seen == {"target suite sent": True, "read as immutable": False, "mode": "wal",
                    "before": seen["before"], "reader saw": seen["before"]}
    assert not run.target.with_name(run.target.name + "-wal").exists()
    with closing(run.db()) as db:   # no stage after the suite's start changed a row
        assert _digest(db, target_spec()["tables"]) == rows["when the suite started"]
    alone = tmp_path / "alone.db"          # the file without anything beside it
    shutil.copyfile(run.target, alone)
    with closing(sqlite3.connect(alone)) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == seen["before"] > 0
        indexes = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchone()[0]
        assert indexes == len(index_statements())
        assert db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    # the suite counted every table's rows as the report does, though it began before the indexes
    counted = [e for e in run.report["expectations"]
               if e["suite"] == "target" and e["expectation_type"] == "expect_table_row_count_to_equal"]
    assert len(counted) > 20 and all(e["success"] for e in counted)


def test_a_build_whose_wal_cannot_be_checkpointed_is_never_swapped_in(tmp_path):
    """finalise_build refuses (a bug: a connection was left open) rather than leave pages in a
    -wal that the rename would leave behind."""
    build = tmp_path / "build.db"
    conn = sqlite3.connect(build, isolation_level=None, timeout=0.1)   # gives up on the reader at once
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("ATTACH DATABASE ? AS src", (str(tmp_path / "src.db"),))
    reader = sqlite3.connect(build, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()      # holds a snapshot of the WAL
    conn.execute("INSERT INTO t VALUES (1)")                  # a frame the checkpoint cannot reset past
    ctx = SimpleNamespace(conn=conn, build_path=build, background={})
    with pytest.raises(RuntimeError, match="could not be checkpointed"):
        finalise_build(ctx)
    reader.close()


def test_the_figures_computed_beside_the_indexes_are_those_of_the_final_rows(migrate, monkeypatch):
    seen = {}
    awaited = pipeline.STAGES["report.figures"]

    def await_figures(ctx):
        seen["started beside"] = "figures" in ctx.background
        awaited(ctx)
        seen["here"] = figures.daily_cost(ctx.conn, ctx.source_columns)   # on the pipeline's connection, indexes built

    monkeypatch.setitem(pipeline.STAGES, "report.figures", await_figures)
    run = migrate(SAMPLES["typescript"][0])
    assert run.exit_code == 0, run.stderr
    daily = run.report["daily_cost"]
    assert seen["started beside"] and daily == seen["here"]
    assert len(daily) > 3 and sum(d["source"] for d in daily) > 0 and sum(d["target"] for d in daily) > 0


def test_a_run_that_fails_while_the_figures_are_computed_stops_them_and_leaves_nothing(tmp_path, migrate, monkeypatch):
    def fail(ctx):
        assert "figures" in ctx.background
        raise RuntimeError("planted failure while the figures run")

    monkeypatch.setitem(pipeline.STAGES, "load.build_indexes", fail)
    run = migrate(SAMPLES["typescript"][0])
    assert run.exit_code == 3 and "planted failure" in run.stderr
    assert not run.target.exists()
    assert not [p for p in run.target.parent.iterdir() if p.name.startswith(".hive-etl-")]
