"""Figures the report charts, computed while both sides are at hand (snapshot and build).

`daily_cost`: cost per UTC day of the conserved-totals table (usage_records), as the
source holds it (values normalised the way the loader reads them, quarantined rows
included) and as the target holds it. Rows without a readable date are summed under
"undated".

`report.start_figures` computes them once every row is loaded, on a read-only connection of
their own in a thread (hive_etl/beside.py), beside the last index builds: it switches the
build to WAL first (load/build_target.py `open_to_readers`, a no-op when the target suite's
start did), so the file can be read while it is written. `report.figures` waits for them;
without the first stage it computes them itself.
"""

from __future__ import annotations

import sqlite3

from ..beside import Beside, thread_connection
from ..context import RunContext
from ..load.build_target import open_to_readers
from ..rules import totals_rule
from ..sqlite_files import file_uri
from ..transform import values
from ..transform.table_plan import q
from ..transform.values import real_sql, timestamp_sql


def daily_cost(conn: sqlite3.Connection, source_columns: dict[str, list[str]]) -> list[dict]:
    """On `conn`, with the build as `main` and the snapshot as `src`."""
    rule = totals_rule()
    table, date_column = rule.get("table"), rule.get("date_column")
    if not table or "cost" not in rule.get("columns", ()) or table not in source_columns:
        return []
    present = source_columns[table]
    if "cost" not in present:
        return []
    day = f"coalesce(date({timestamp_sql('s.' + q(date_column))}), 'undated')" if date_column in present else "'undated'"
    source = dict(conn.execute(
        f"SELECT {day}, sum({real_sql('s.cost')}) FROM src.{q(table)} AS s GROUP BY 1"))
    target = dict(conn.execute(
        f"SELECT coalesce(date(s.{q(date_column)}), 'undated'), sum(s.cost) FROM main.{q(table)} AS s GROUP BY 1"))
    return [{"date": d, "source": source.get(d) or 0.0, "target": target.get(d) or 0.0}
            for d in sorted(set(source) | set(target))]


def start_figures(ctx: RunContext) -> None:
    open_to_readers(ctx)
    conn = thread_connection(file_uri(ctx.build_path, "mode=ro"))
    try:
        conn.execute("ATTACH DATABASE ? AS src", (ctx.snapshot_uri,))
        values.register(conn)
    except BaseException:
        conn.close()
        raise
    columns = ctx.source_columns
    ctx.background["figures"] = Beside("figures", lambda: daily_cost(conn, columns), conn)


def compute_figures(ctx: RunContext) -> None:
    job = ctx.background.pop("figures", None)
    ctx.figures["daily_cost"] = job.result() if job is not None else daily_cost(ctx.conn, ctx.source_columns)
