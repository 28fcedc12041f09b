"""Load one table from the attached snapshot into the build database, and count it.

Runs a table plan (hive_etl/transform/table_plan.py): first the audit query, whose rows go
to the quarantine and archive files, then the bulk `INSERT ... SELECT`, all inside SQLite.
The reconciliation terms are measured, not derived from each other: `read` is the source
row count, `inserted` the growth of the target table, `merged`/`duplicates` the rows whose
key the target already had (different / equal in every column), `quarantined` what the
audit found. The identity between them is checked after the load.
"""

from __future__ import annotations

import sqlite3

from ..context import RunContext, TableCounts
from ..transform.table_plan import TablePlan, q
from .merge import MergeOutcome, merge_rows

FETCH_ROWS = 5_000


def row_count(conn: sqlite3.Connection, schema: str, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {schema}.{q(table)}").fetchone()[0]


def source_pk(ctx: RunContext, table: str, columns: list[str], row) -> dict:
    """The source primary key of a raw row (its rowid when the table declares none)."""
    values = dict(zip(columns, row))
    keys = ctx.source_keys.get(table) or []
    return {k: values.get(k) for k in keys} if keys else {"rowid": values.get("_rid")}


def _audit(ctx: RunContext, plan: TablePlan) -> tuple[int, int]:
    """Write quarantined rows, merged-away rows and NULLed values; return (quarantined, skipped)."""
    sql = (
        f"SELECT a.*, s.* FROM ({plan.audit_sql()}) AS a "
        f"JOIN src.{q(plan.table)} AS s ON s.rowid = a._rid ORDER BY a._rid"
    )
    cursor = ctx.conn.execute(sql)
    names = [d[0] for d in cursor.description]
    flags = 3 + len(plan.nulls)
    raw_columns = names[flags:]
    null_columns = list(plan.nulls)
    quarantined = skipped = 0
    while rows := cursor.fetchmany(FETCH_ROWS):
        for row in rows:
            rid, reason, skip = row[0], row[1], row[2]
            raw = row[flags:]
            pk = source_pk(ctx, plan.table, ["_rid"] + raw_columns, (rid,) + tuple(raw))
            if reason is not None:
                quarantined += 1
                ctx.sidecars.quarantine_row(plan.table, rid, pk, reason, raw_columns, raw)
                continue
            values = dict(zip(raw_columns, raw))
            if skip is not None:
                skipped += 1
                for column, value in values.items():
                    if value is not None:
                        ctx.sidecars.archive_value(plan.table, pk, column, value, skip)
                continue
            for column, why in zip(null_columns, row[3:flags]):
                if why is not None:
                    source_column = plan.source_of(column) or column
                    replaced = f"{column} set to {plan.fallback_of(column)}"
                    ctx.sidecars.archive_value(plan.table, pk, source_column, values.get(source_column), f"{replaced}: {why}")
    return quarantined, skipped


def load_table(ctx: RunContext, plan: TablePlan) -> TableCounts:
    """Move one table; its counts are recorded in the context and returned."""
    conn, table = ctx.conn, plan.table
    counts = ctx.counts(table)
    counts.read += row_count(conn, "src", table)
    before = row_count(conn, "main", table)
    quarantined, skipped = _audit(ctx, plan)
    if before == 0:
        conn.execute(plan.insert_sql())
        outcome = MergeOutcome()
    else:
        outcome = merge_rows(ctx, plan)
    counts.inserted += row_count(conn, "main", table) - before
    counts.merged += outcome.source_won + outcome.target_kept + skipped
    counts.duplicates += outcome.equal
    counts.quarantined += quarantined
    ctx.loaded.add(table)
    return counts


def _totals(ctx: RunContext, column: str) -> dict:
    return ctx.totals.setdefault(column, {"source": 0, "target": 0, "quarantined": 0, "target_before": 0, "already_present": 0})


def load_conserving_totals(ctx: RunContext, plan: TablePlan, columns: list[str]) -> None:
    """Load the table whose sums must be conserved, measuring every term of the identity

        source = (target - target_before) + already_present + quarantined

    `source`: every source row's normalised value (a value that cannot be read as a number is
    archived and counted nowhere); `quarantined`: those of quarantined rows;
    `already_present`: those of rows the target already held (a merge, or a re-run);
    `target_before`/`target`: the target's sums before and after the load. For a new target
    the last two terms are 0 and this is the contract's source = target + quarantined.
    """
    conn = ctx.conn
    sums = ", ".join(
        f"coalesce(sum({plan.value_sql(c)}), 0), coalesce(sum(CASE WHEN m._reason IS NOT NULL THEN {plan.value_sql(c)} END), 0)"
        for c in columns
    )
    row = conn.execute(f"SELECT {sums} FROM ({plan.middle_sql()}) AS m").fetchone()
    target_sums = ", ".join(f"coalesce(sum({q(c)}), 0)" for c in columns)
    before = conn.execute(f"SELECT {target_sums} FROM main.{q(plan.table)}").fetchone()
    merging = row_count(conn, "main", plan.table) > 0
    load_table(ctx, plan)
    present = [0] * len(columns)
    if merging:  # the merge's temp tables still hold this table's rows
        present = conn.execute(
            f"SELECT {', '.join(f'coalesce(sum(s.{q(c)}), 0)' for c in columns)} FROM temp.staged AS s "
            f"JOIN temp.merge_rows AS r ON r.rid = s._rid WHERE r.action <> 'new'"
        ).fetchone()
    after = conn.execute(f"SELECT {target_sums} FROM main.{q(plan.table)}").fetchone()
    for i, column in enumerate(columns):
        total = _totals(ctx, column)
        total["source"] += row[2 * i]
        total["quarantined"] += row[2 * i + 1]
        total["target_before"] += before[i]
        total["already_present"] += present[i]
        total["target"] = after[i]
