"""The post-load quick_check: it runs beside the other checks on a connection of its own once the
build is committed, and still sees the rows of a load whose transaction is open."""

import sqlite3
from datetime import datetime, timezone

from hive_etl.checks import post_load
from hive_etl.context import RunContext


def _build(tmp_path) -> RunContext:
    path = tmp_path / "build.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE budget (id INTEGER PRIMARY KEY, amount REAL CHECK (amount >= 0))")
    conn.execute("INSERT INTO budget (amount) VALUES (5)")
    ctx = RunContext(source=tmp_path / "hive-ai.db", target=tmp_path / "out.db", home=tmp_path,
                     report_dir=tmp_path / "report", now=datetime.now(timezone.utc))
    ctx.build_path, ctx.conn = path, conn
    return ctx


def _plant_check_violation(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("INSERT INTO budget (amount) VALUES (-1)")
    conn.execute("PRAGMA ignore_check_constraints = OFF")


def test_quick_check_of_a_committed_build_reads_the_file_itself(tmp_path):
    ctx = _build(tmp_path)
    assert post_load.check_integrity(ctx).ok
    _plant_check_violation(ctx.conn)
    result = post_load.check_integrity(ctx)
    assert not result.ok and "CHECK constraint failed in budget" in result.detail


def test_quick_check_sees_rows_of_a_transaction_still_open(tmp_path):
    ctx = _build(tmp_path)
    ctx.conn.execute("BEGIN")
    _plant_check_violation(ctx.conn)    # not committed: another connection would not see it
    result = post_load.check_integrity(ctx)
    assert not result.ok and "CHECK constraint failed in budget" in result.detail
    ctx.conn.execute("ROLLBACK")


def test_checks_run_beside_each_other_are_reported_in_their_order(tmp_path, monkeypatch):
    from hive_etl.context import CheckResult

    def named(name):
        return lambda ctx: CheckResult(name, True)

    first, second, third = named("first"), named("second"), named("third")
    monkeypatch.setattr(post_load, "CHECKS", (first, second, third))
    monkeypatch.setattr(post_load, "BESIDE", (second,))
    ctx = _build(tmp_path)
    assert [r.name for r in post_load.run_post_load_checks(ctx)] == ["first", "second", "third"]
    assert [r.name for r in ctx.checks] == ["first", "second", "third"]
