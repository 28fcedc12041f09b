"""Load the model catalog: providers, models, and a row for every model anything names.

Runs the decisions of hive_etl/transform/model_ids.py against the build database:
1. `openrouter_providers` is loaded like any table (the user's rows replace seeded ones);
2. the model map is written to two temp tables that later table loads join against:
   `temp.model_rows` (source rowid -> target internal_id, per catalog row) and
   `temp.model_ids` (source internal_id key -> target internal_id, for references), plus
   `temp.model_refs` (text reference -> catalog row);
3. `openrouter_models` is loaded through the map (matched rows update the target's row in
   place and keep its internal_id);
4. inactive placeholder rows are added for providers and models that are named but absent.
"""

from __future__ import annotations

from ..context import RunContext
from ..schema import target_spec
from ..transform.model_ids import id_key_sql, provider_of, shipped_aliases
from ..rules import table_rules
from ..transform.table_plan import ColumnPlan, build_plan, legacy_model_sql, q
from ..transform.values import format_utc
from .tables import load_table

MAP_TABLES = (
    "CREATE TEMP TABLE model_rows (rid INTEGER PRIMARY KEY, target_id INTEGER, openrouter_id TEXT, writes INTEGER)",
    "CREATE TEMP TABLE model_ids (source_key TEXT PRIMARY KEY, target_id INTEGER) WITHOUT ROWID",
    "CREATE TEMP TABLE model_refs (raw TEXT PRIMARY KEY, internal_id INTEGER, openrouter_id TEXT) WITHOUT ROWID",
)
# What this module writes; transform.json_model_ids adds to them after the table loads.
CATALOG_TABLES = ("openrouter_providers", "openrouter_models")
PLACEHOLDER_DESCRIPTION = "Placeholder: named in the user's history but absent from the catalog (hive-etl)"


def write_map_tables(ctx: RunContext, rowids: dict[int, int]) -> None:
    """The model map as temp tables; `rowids` maps source rowid -> catalog decision index."""
    conn, model_map = ctx.conn, ctx.model_map
    for statement in MAP_TABLES:
        conn.execute(statement)
    decisions = model_map.catalog
    conn.executemany(
        "INSERT INTO temp.model_rows VALUES (?, ?, ?, ?)",
        [(rid, decisions[i].internal_id, decisions[i].openrouter_id, int(decisions[i].writes_row)) for rid, i in rowids.items()],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO temp.model_ids VALUES (?, ?)",
        [(d.source_key, d.internal_id) for d in decisions if d.source_key is not None],
    )
    _write_references(ctx, model_map.references)


def _write_references(ctx: RunContext, decisions) -> None:
    ctx.conn.executemany("INSERT INTO temp.model_refs VALUES (?, ?, ?)",
                         [(d.source, d.internal_id, d.openrouter_id) for d in decisions])


def add_reference_models(ctx: RunContext, decisions) -> None:
    """Text references decided after the catalog was loaded (the legacy JSON files'): their map
    rows, and placeholder catalog rows where they name no model the target has."""
    _write_references(ctx, decisions)
    add_placeholder_models(ctx)


def _model_overrides() -> dict[str, ColumnPlan]:
    lookup = "(SELECT {col} FROM temp.model_rows WHERE rid = s.rowid)"
    return {
        "internal_id": ColumnPlan("internal_id", lookup.format(col="target_id"), kind="model id"),
        "openrouter_id": ColumnPlan("openrouter_id", lookup.format(col="openrouter_id"), kind="model", not_null=True),
    }


def _skip_sql() -> str:
    return (
        "(SELECT CASE WHEN writes = 0 THEN 'merged into catalog row internal_id ' || target_id END "
        "FROM temp.model_rows WHERE rid = s.rowid)"
    )


def add_placeholder_providers(ctx: RunContext, provider_ids: set[str]) -> int:
    conn = ctx.conn
    have = {r[0] for r in conn.execute("SELECT id FROM main.openrouter_providers")}
    names = {r[0] for r in conn.execute("SELECT name FROM main.openrouter_providers")}
    now = format_utc(ctx.now)
    added = 0
    for provider in sorted(p for p in provider_ids if p and p not in have):
        name = provider if provider not in names else f"{provider} (placeholder)"
        conn.execute(
            "INSERT INTO main.openrouter_providers (id, name, display_name, last_updated, is_active, created_at) "
            "VALUES (?, ?, ?, ?, 0, ?)",
            (provider, name, provider, now, now),
        )
        added += 1
    ctx.counts("openrouter_providers").created += added
    return added


def add_placeholder_models(ctx: RunContext) -> int:
    """A catalog row for every text reference whose internal_id the target lacks."""
    conn, aliases = ctx.conn, shipped_aliases()
    missing = conn.execute(
        "SELECT DISTINCT r.internal_id, r.openrouter_id FROM temp.model_refs AS r "
        "WHERE NOT EXISTS (SELECT 1 FROM main.openrouter_models AS m WHERE m.internal_id = r.internal_id) "
        "ORDER BY r.internal_id"
    ).fetchall()
    add_placeholder_providers(ctx, {provider_of(oid, aliases) for _, oid in missing})
    now = format_utc(ctx.now)
    epoch = int(ctx.now.timestamp())
    conn.executemany(
        "INSERT INTO main.openrouter_models (internal_id, openrouter_id, name, provider_id, provider_name, description, "
        "created_at, is_active, last_updated) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
        [(iid, oid, oid, provider_of(oid, aliases), provider_of(oid, aliases), PLACEHOLDER_DESCRIPTION, epoch, now)
         for iid, oid in missing],
    )
    ctx.counts("openrouter_models").created += len(missing)
    return len(missing)


def _recount_skipped_duplicates(ctx: RunContext) -> None:
    """A source row merged into another spelling of its model is a duplicate, not a merge,
    when that model's row was already in the target exactly as this run would write it
    (a re-run over the migration's own result)."""
    if not ctx.merge:
        return
    same = ctx.conn.execute(
        "SELECT count(*) FROM temp.model_rows AS k "
        "JOIN temp.model_rows AS first ON first.target_id = k.target_id AND first.writes = 1 "
        "JOIN temp.merge_rows AS r ON r._rid = first.rid WHERE k.writes = 0 AND r._action = 'equal'"
    ).fetchone()[0]
    counts = ctx.counts("openrouter_models")
    counts.merged -= same
    counts.duplicates += same


def load_model_catalog(ctx: RunContext, rowids: dict[int, int]) -> None:
    conn, spec = ctx.conn, target_spec()["tables"]
    existing = set(ctx.target_rows_before)
    if "openrouter_providers" in ctx.source_columns:
        load_table(ctx, build_plan("openrouter_providers", spec["openrouter_providers"],
                                   ctx.source_columns["openrouter_providers"], existing,
                                   source_keys=ctx.source_keys.get("openrouter_providers")))
    write_map_tables(ctx, rowids)
    if "openrouter_models" in ctx.source_columns:
        columns = ctx.source_columns["openrouter_models"]
        if "provider_id" in columns:
            needed = {r[0] for r in conn.execute("SELECT DISTINCT provider_id FROM src.openrouter_models")}
            add_placeholder_providers(ctx, needed)
        plan = build_plan("openrouter_models", spec["openrouter_models"], columns, existing,
                          overrides=_model_overrides(), skip_sql=_skip_sql(),
                          source_keys=ctx.source_keys.get("openrouter_models"))
        if load_table(ctx, plan):  # matched against the target's rows: some may be equal
            _recount_skipped_duplicates(ctx)
    # A source model that could not be loaded leaves no row behind: references to it fall
    # back to their legacy text, or become placeholders, instead of dangling.
    conn.execute(
        "DELETE FROM temp.model_ids WHERE target_id NOT IN (SELECT internal_id FROM main.openrouter_models)"
    )
    add_placeholder_models(ctx)
    ctx.loaded.update({"openrouter_providers", "openrouter_models"})


def resolve_legacy_ids(ctx: RunContext) -> list[dict]:
    """Report entries for model-id columns resolved from their legacy text (rule 4)."""
    entries = []
    for table, rules in table_rules().items():
        present = set(ctx.source_columns.get(table, ()))
        keys = ctx.source_keys.get(table) or []
        for column, legacy in (rules.get("model_ids") or {}).items():
            if not (legacy or {}).get("model") or column not in present:
                continue
            text = legacy_model_sql(legacy.get("provider"), legacy["model"], present)
            key = f"s.{q(keys[0])}" if keys else "s.rowid"
            rows = ctx.conn.execute(
                f"SELECT {key}, s.{q(column)}, {text}, (SELECT internal_id FROM temp.model_refs WHERE raw = {text}) "
                f"FROM src.{q(table)} AS s WHERE NOT EXISTS "
                f"(SELECT 1 FROM temp.model_ids WHERE source_key = {id_key_sql('s.' + q(column))})"
            )
            for pk, value, legacy_text, internal_id in rows:
                resolution = f"legacy text {legacy_text!r}" if internal_id is not None else "unresolved: row quarantined"
                entries.append({"source": f"{table}[{pk}].{column} = {value!r}", "source_internal_id": value,
                                "kind": "legacy", "internal_id": internal_id, "openrouter_id": None,
                                "resolution": resolution})
    return entries
