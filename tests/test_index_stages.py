"""Indexes are built in two stages: those of the tables no later stage writes (while the usage
file may still be read in its child), then the rest. The first stage is only worth it if
the list is right: a table it indexes must not change afterwards."""

from __future__ import annotations

import hashlib

from conftest import SAMPLES
from hive_etl import pipeline
from hive_etl.schema import index_statements
from hive_etl.schema.create import index_table
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


def test_the_derived_table_is_made_from_settled_tables_once_they_are_loaded():
    """daily_usage_summary is derived before the usage file's child is awaited: right only if
    what it reads is loaded by then and written by no later stage."""
    import re

    from hive_etl.transform.derived import DAILY_USAGE_SQL, DERIVED_FROM

    assert set(re.findall(r"main\.(\w+)", DAILY_USAGE_SQL)) == set(DERIVED_FROM)
    assert set(DERIVED_FROM) <= settled_tables()
    for name in ("migrate", "dry_run"):
        stages = pipeline.stage_names(name)
        assert stages.index("load.tables") < stages.index("transform.derived_tables")
