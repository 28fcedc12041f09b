"""Indexes are built in two stages: those of the tables no later stage writes (while the usage
file may still be read in its child), then the rest. The first stage is only worth it if
the list is right: a table it indexes must not change afterwards."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from contextlib import closing
from types import SimpleNamespace

import pytest

from conftest import SAMPLES
from hive_etl import pipeline
from hive_etl.load.swap import finalise_build
from hive_etl.schema import index_statements, target_spec
from hive_etl.schema.create import index_table
from hive_etl.sqlite_files import wants_immutable
from hive_etl.stages import settled_tables
from hive_etl.transform.table_plan import q


def _digest(conn, tables) -> dict[str, tuple[int, str]]:
    out = {}
    for table in sorted(tables):
        rows = conn.execute(f"SELECT * FROM main.{q(table)} ORDER BY rowid").fetchall()
        out[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


def test_no_stage_after_the_early_indexes_writes_a_settled_table(migrate, monkeypatch):
    seen = {}
    early, late = pipeline.STAGES["load.index_settled_tables"], pipeline.STAGES["load.build_indexes"]

    def index_early(ctx):
        early(ctx)
        seen["indexed"] = {r[0] for r in ctx.conn.execute("SELECT tbl_name FROM main.sqlite_master "
                                                          "WHERE type = 'index' AND sql IS NOT NULL")}
        seen["early"] = _digest(ctx.conn, settled_tables())

    def index_late(ctx):
        seen["late"] = _digest(ctx.conn, settled_tables())
        late(ctx)

    monkeypatch.setitem(pipeline.STAGES, "load.index_settled_tables", index_early)
    monkeypatch.setitem(pipeline.STAGES, "load.build_indexes", index_late)
    run = migrate(SAMPLES["typescript"][0])
    assert run.exit_code == 0, run.stderr
    assert seen["early"] == seen["late"]
    assert seen["early"]["messages"][0] > 0 and seen["early"]["conversations"][0] > 0
    # the early stage indexed settled tables only, and the JSON-fed ones were left for later
    indexed_tables = {index_table(s) for s in index_statements()}
    assert seen["indexed"] == indexed_tables & settled_tables()
    assert "usage_records" in indexed_tables and "usage_records" not in seen["indexed"]
    with run.db() as db:
        assert len(db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()) \
            == len(index_statements())


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
    assert seen == {"target suite sent": True, "read as immutable": False, "mode": "wal", "before": seen["before"], "reader saw": seen["before"]}
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
    ctx = SimpleNamespace(conn=conn, build_path=build)
    with pytest.raises(RuntimeError, match="could not be checkpointed"):
        finalise_build(ctx)
    reader.close()
