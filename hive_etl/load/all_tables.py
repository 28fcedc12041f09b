"""Load every copied table, parents before children."""

from __future__ import annotations

from graphlib import TopologicalSorter

from ..context import RunContext
from ..rules import merge_rule, table_rules, totals_rule
from ..schema import target_spec
from ..transform.table_plan import build_plan
from .tables import load_conserving_totals, load_table, row_count


def load_order() -> list[str]:
    """Target tables sorted so that every foreign key's parent comes first (ties by name)."""
    tables = target_spec()["tables"]
    graph = {
        name: {fk["ref_table"] for fk in spec["foreign_keys"] if fk["ref_table"] in tables and fk["ref_table"] != name}
        for name, spec in sorted(tables.items())
    }
    sorter = TopologicalSorter(graph)
    sorter.prepare()
    order = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


def load_all_tables(ctx: RunContext) -> None:
    rules, totals = table_rules(), totals_rule()
    spec = target_spec()["tables"]
    existing = set(ctx.target_rows_before)
    tables = [t for t in load_order()
              if t not in ctx.loaded and t in ctx.source_columns and not rules.get(t, {}).get("stage")]
    bar = ctx.bar("load.tables", sum(row_count(ctx.conn, "src", t) for t in tables) if ctx.progress else 0)
    for table in tables:
        plan = build_plan(table, spec[table], ctx.source_columns[table], existing,
                          natural_key=merge_rule()["natural_keys"].get(table), source_keys=ctx.source_keys.get(table),
                          source_unique=ctx.source_unique.get(table))
        if table == totals.get("table"):
            load_conserving_totals(ctx, plan, totals["columns"], bar)
        else:
            load_table(ctx, plan, bar)
    bar.close()
