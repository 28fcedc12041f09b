"""Archive what the target has no place for: unknown tables and columns, dropped columns.

Every non-NULL value of a source column the target table lacks (e.g. the dropped
`consensus_profiles.pipeline_profile_id`, or a desktop build's `conversations.title`), and
every value of a source table the target lacks (e.g. `model_aliases`), goes to
archive/<table>.parquet keyed by the source primary key. Streams in batches.
"""

from __future__ import annotations

from ..context import RunContext
from ..schema import target_spec
from ..transform.table_plan import q
from .tables import FETCH_ROWS, source_pk


def _archive_columns(ctx: RunContext, table: str, columns: list[str], reason: str) -> int:
    keys = ctx.source_keys.get(table) or []
    select = ", ".join(["s.rowid AS _rid"] + [f"s.{q(c)}" for c in dict.fromkeys(keys + columns)])
    cursor = ctx.conn.execute(f"SELECT {select} FROM src.{q(table)} AS s ORDER BY s.rowid")
    names = [d[0] for d in cursor.description]
    archived = 0
    while rows := cursor.fetchmany(FETCH_ROWS):
        for row in rows:
            values = dict(zip(names, row))
            pk = source_pk(ctx, table, names, row)
            for column in columns:
                if values[column] is not None:
                    ctx.sidecars.archive_value(table, pk, column, values[column], reason)
                    archived += 1
    return archived


def archive_unmapped(ctx: RunContext) -> None:
    spec = target_spec()["tables"]
    for table, columns in sorted(ctx.source_columns.items()):
        if table not in spec:
            rows = ctx.conn.execute(f"SELECT count(*) FROM src.{q(table)}").fetchone()[0]
            values = _archive_columns(ctx, table, columns, "table has no place in the target")
            ctx.drift["extra_tables"].append({"table": table, "rows": rows, "values_archived": values})
            continue
        target_columns = {c["name"] for c in spec[table]["columns"]}
        extra = [c for c in columns if c not in target_columns]
        if extra:
            ctx.drift["extra_columns"].extend(f"{table}.{c}" for c in extra)
            _archive_columns(ctx, table, extra, "column has no place in the target")
