"""Load one table from the attached snapshot into the build database, and count it.

Runs a table plan (hive_etl/transform/table_plan.py) as one bulk `INSERT ... SELECT` inside
SQLite. The few rows that are not written as they are reach Python through the plan's
`hive_flag` and `hive_nulled` SQL functions during that same pass, and go straight to the
quarantine and archive files. The reconciliation terms are measured, not derived from each other:
`read` is the source row count, `inserted` the growth of the target table,
`merged`/`duplicates` the rows whose key the target already had (different / equal in
every column), `quarantined` the rows flagged with a reason. The identity between them is
checked after the load.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import replace

from ..context import RunContext
from ..progress import NoBar
from ..transform.table_plan import TablePlan, q
from .merge import MergeOutcome, held_rows, merge_rows

FETCH_ROWS = 5_000
PROGRESS_INSTRUCTIONS = 50_000   # SQLite VM steps between two progress-bar estimates


def row_count(conn: sqlite3.Connection, schema: str, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {schema}.{q(table)}").fetchone()[0]


def source_pk(ctx: RunContext, table: str, columns: list[str], row) -> dict:
    """The source primary key of a raw row (its rowid when the table declares none)."""
    values = dict(zip(columns, row))
    keys = ctx.source_keys.get(table) or []
    return {k: values.get(k) for k in keys} if keys else {"rowid": values.get("_rid")}


class FlaggedRows:
    """The `hive_flag` and `hive_nulled` SQL functions of one table load (TablePlan.keep_sql).
    SQLite calls them, during the bulk statement, for each row that is not written as it is:
    the row, or the value it loses, goes straight to the quarantine or archive file (buffered
    there in bounded batches), so memory does not grow with the number of such rows."""

    def __init__(self, ctx: RunContext, plan: TablePlan):
        self.ctx, self.plan = ctx, plan
        self.keys, self.columns = len(plan.source_keys), list(plan.source_columns)
        # per NULLable column: (the source column it is archived under, what the reason says was done)
        self.archived_as = [(plan.source_of(c) or c, f"{c} set to {plan.fallback_of(c)}: ") for c in plan.nulls]
        self.quarantined = self.skipped = 0
        self.quarantined_sums = [0] * len(plan.tallied)   # of plan.tallied, over the quarantined rows
        self.tallied_at = self.keys + len(plan.tallied)   # where hive_flag's source key and tallied values end

    def _pk(self, rid, key) -> dict:
        return dict(zip(self.plan.source_keys, key)) if self.keys else {"rowid": rid}

    def __call__(self, rid, reason, skip, *rest):
        """hive_flag: a row quarantined (`reason`) or merged into another (`skip`): 0, not written."""
        sidecars, table = self.ctx.sidecars, self.plan.source_name
        key = rest[: self.keys]
        tallied = rest[self.keys: self.tallied_at]
        raw = rest[self.tallied_at:]
        if reason is not None:
            self.quarantined += 1
            for i, value in enumerate(tallied):
                if value is not None:
                    self.quarantined_sums[i] += value
            sidecars.quarantine_row(table, rid, self._pk(rid, key), reason, self.columns, raw)
            return 0
        self.skipped += 1
        for column, value in zip(self.columns, raw):
            if value is not None:
                sidecars.archive_value(table, self._pk(rid, key), column, value, skip)
        return 0

    def nulled(self, position, rid, *rest):
        """hive_nulled: the value of the `position`-th NULLable column is replaced; the row is written."""
        *key, why, original = rest
        column, replaced = self.archived_as[position]
        self.ctx.sidecars.archive_value(self.plan.source_name, self._pk(rid, key), column, original, replaced + why)
        return 1


def load_table(ctx: RunContext, plan: TablePlan, bar=None, flagged: FlaggedRows | None = None) -> MergeOutcome | None:
    """Move one table in one pass; its counts are recorded in the context. Returns the merge's
    outcome when rows were matched against the target's (temp.merge_rows then holds them).
    `bar` (hive_etl.progress) is moved by the table's source rows; `flagged`, if given, is the
    hive_flag to use (the caller reads what it saw)."""
    conn, table = ctx.conn, plan.table
    counts = ctx.counts(table)
    rows = row_count(conn, plan.source_schema, plan.source_table or table)
    counts.read += rows
    with _moving(conn, bar, plan.source_name, rows):
        merged = _write(ctx, plan, counts, flagged or FlaggedRows(ctx, plan))
    ctx.loaded.add(table)
    return merged


@contextmanager
def _moving(conn: sqlite3.Connection, bar, note: str, rows: int):
    """While the statements run, SQLite's progress handler moves the bar by estimate."""
    if bar is None or isinstance(bar, NoBar):
        yield
        return
    ceiling = bar.done + rows
    bar.begin(note)
    conn.set_progress_handler(lambda: bar.estimate(ceiling), PROGRESS_INSTRUCTIONS)
    try:
        yield
    finally:
        conn.set_progress_handler(None, 0)
    bar.update(ceiling)


@contextmanager
def checked_by_plan(conn: sqlite3.Connection):
    """While a plan's statements write: SQLite does not test the table's CHECK constraints
    again. The plan has tested each one on every row already (TablePlan.reasons: a row that
    breaks one is quarantined, never written), and SQLite's own test of a CHECK's IN list
    costs about as much as writing the row (activity_log's 500k rows: 0.8 s of a 1.9 s
    load). Outside the plans' statements every CHECK is enforced as usual, and the post-load
    checks prove them all on the built file (checks/post_load.py `check_integrity`)."""
    conn.execute("PRAGMA ignore_check_constraints = ON")
    try:
        yield
    finally:
        conn.execute("PRAGMA ignore_check_constraints = OFF")


def _write(ctx: RunContext, plan: TablePlan, counts, flagged: FlaggedRows) -> MergeOutcome | None:
    conn, table = ctx.conn, plan.table
    before = row_count(conn, "main", table)
    conn.create_function("hive_flag", -1, flagged)
    conn.create_function("hive_nulled", -1, flagged.nulled)
    merged = None
    held = held_rows(conn, plan) if before else None
    with checked_by_plan(conn):
        if before == 0 or (held is not None and held.count == 0):   # every row is new: no staging
            conn.execute(plan.insert_sql())
        else:
            merged = merge_rows(ctx, plan, held)
    outcome = merged or MergeOutcome()
    counts.inserted += row_count(conn, "main", table) - before
    counts.merged += outcome.source_won + outcome.target_kept
    counts.duplicates += outcome.equal
    if plan.skip_counts_as == "duplicates":
        counts.duplicates += flagged.skipped
    else:
        counts.merged += flagged.skipped
    counts.quarantined += flagged.quarantined
    return merged


def _totals(ctx: RunContext, column: str) -> dict:
    return ctx.totals.setdefault(column, {"source": 0, "target": 0, "quarantined": 0, "target_before": 0, "already_present": 0})


def load_conserving_totals(ctx: RunContext, plan: TablePlan, columns: list[str], bar=None) -> None:
    """Load the table whose sums must be conserved, measuring every term of the identity

        source = (target - target_before) + already_present + quarantined

    `source`: every source row's normalised value (a value that cannot be read as a number is
    archived and counted nowhere), by one plain scan of the source before the load;
    `quarantined`: those of the rows the load quarantines, summed as `hive_flag` receives
    them (plan.tallied); `already_present`: those of rows the target already held (a merge,
    or a re-run); `target_before`/`target`: the target's sums before and after the load. For
    a new target the last two terms are 0 and this is the contract's source = target +
    quarantined.
    """
    conn = ctx.conn
    alone = [plan.source_value_sql(c) for c in columns]
    if all(alone):
        source = conn.execute(f"SELECT {', '.join(f'coalesce(sum({e}), 0)' for e in alone)} "
                              f"FROM {plan.source_schema}.{q(plan.source_table or plan.table)} AS s").fetchone()
    else:   # a value that depends on other rows or tables: the whole plan, once more
        source = conn.execute(f"SELECT {', '.join(f'coalesce(sum({plan.value_sql(c)}), 0)' for c in columns)} "
                              f"FROM ({plan.middle_sql()}) AS m").fetchone()
    target_sums = ", ".join(f"coalesce(sum({q(c)}), 0)" for c in columns)
    before = conn.execute(f"SELECT {target_sums} FROM main.{q(plan.table)}").fetchone()
    plan = replace(plan, tallied=list(columns))     # the caller's plan is left as it was
    flagged = FlaggedRows(ctx, plan)
    merged = load_table(ctx, plan, bar, flagged)
    present = [0] * len(columns)
    if merged:  # the merge's temp table still holds this table's rows
        present = conn.execute(
            f"SELECT {', '.join(f'coalesce(sum(s.{q(c)}), 0)' for c in columns)} FROM temp.merge_rows AS s "
            f"WHERE s._action <> 'new'"
        ).fetchone()
    after = conn.execute(f"SELECT {target_sums} FROM main.{q(plan.table)}").fetchone()
    for i, column in enumerate(columns):
        first = column not in ctx.totals
        total = _totals(ctx, column)
        total["source"] += source[i]
        total["quarantined"] += flagged.quarantined_sums[i]
        if first:  # several sources (the database, then the JSON files) load into one table
            total["target_before"] = before[i]
        total["already_present"] += present[i]
        total["target"] = after[i]
