"""Figures the report charts, computed while both sides are at hand (snapshot and build).

`daily_cost`: cost per UTC day of the conserved-totals table (usage_records), as the
source holds it (values normalised the way the loader reads them, quarantined rows
included) and as the target holds it. Rows without a readable date are summed under
"undated".
"""

from __future__ import annotations

from ..context import RunContext
from ..rules import totals_rule
from ..transform.table_plan import q
from ..transform.values import real_sql, timestamp_sql


def daily_cost(ctx: RunContext) -> list[dict]:
    rule = totals_rule()
    table, date_column = rule.get("table"), rule.get("date_column")
    if not table or "cost" not in rule.get("columns", ()) or table not in ctx.source_columns:
        return []
    present = ctx.source_columns[table]
    if "cost" not in present:
        return []
    day = f"coalesce(date({timestamp_sql('s.' + q(date_column))}), 'undated')" if date_column in present else "'undated'"
    source = dict(ctx.conn.execute(
        f"SELECT {day}, sum({real_sql('s.cost')}) FROM src.{q(table)} AS s GROUP BY 1"))
    target = dict(ctx.conn.execute(
        f"SELECT coalesce(date(s.{q(date_column)}), 'undated'), sum(s.cost) FROM main.{q(table)} AS s GROUP BY 1"))
    return [{"date": d, "source": source.get(d) or 0.0, "target": target.get(d) or 0.0}
            for d in sorted(set(source) | set(target))]


def compute_figures(ctx: RunContext) -> None:
    ctx.figures["daily_cost"] = daily_cost(ctx)
