"""Load every copied table, parents before children."""

from __future__ import annotations

from graphlib import TopologicalSorter

from ..context import RunContext
from ..rules import table_rules, totals_rule
from ..schema import target_spec
from ..transform.table_plan import build_plan
from .tables import load_table, measure_totals, read_target_totals


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
    for table in load_order():
        if table in ctx.loaded or table not in ctx.source_columns or rules.get(table, {}).get("stage"):
            continue
        plan = build_plan(table, spec[table], ctx.source_columns[table], existing)
        if table == totals.get("table"):
            measure_totals(ctx, plan, totals["columns"])
        load_table(ctx, plan)
    if totals:
        read_target_totals(ctx, totals["table"], totals["columns"])
