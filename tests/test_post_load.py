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


def test_a_committed_build_is_checked_read_only_with_every_constraint(tmp_path):
    ctx = _build(tmp_path)
    ctx.conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, stage TEXT, "
                     "CHECK (kind IN ('start', 'stop', 'error')), CHECK (stage IN ('a', 'b')))")
    ctx.conn.execute("INSERT INTO events (kind, stage) VALUES ('start', 'a'), ('stop', NULL)")  # NULL passes a CHECK
    assert post_load.check_integrity(ctx).ok
    ctx.conn.execute("PRAGMA ignore_check_constraints = ON")
    ctx.conn.execute("INSERT INTO events (kind, stage) VALUES ('pause', 'a'), ('resume', 'b'), ('stop', 'z')")
    ctx.conn.execute("PRAGMA ignore_check_constraints = OFF")
    ctx.conn.execute("INSERT INTO budget (amount) VALUES (NULL)")
    ctx.conn.execute("PRAGMA writable_schema = ON")    # a NULL where the file says NOT NULL: quick_check's own finding
    ctx.conn.execute("UPDATE sqlite_master SET sql = replace(sql, 'amount REAL', 'amount REAL NOT NULL') "
                     "WHERE name = 'budget'")
    ctx.conn.execute("PRAGMA writable_schema = OFF")
    ctx.conn.close()
    ctx.conn = sqlite3.connect(ctx.build_path, isolation_level=None)
    result = post_load.check_integrity(ctx)
    assert not result.ok
    assert "NULL value in budget.amount" in result.detail
    assert "CHECK constraint failed in events: 2 rows break (kind IN ('start', 'stop', 'error'))" in result.detail
    assert "CHECK constraint failed in events: 1 rows break (stage IN ('a', 'b'))" in result.detail


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
