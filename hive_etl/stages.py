"""The stage registry: the names pipelines/*.yaml may list, and the function each runs.

A stage takes the run context and adds to it. Keeping the list here, and the order in the
pipeline file, lets a later stage (legacy JSON, expectations, reports) slot in by name.
"""

from __future__ import annotations

from collections.abc import Callable

from .checks.expectation_stages import (source_expectations, start_source_expectations, start_target_expectations,
                                        target_expectations)
from .checks.post_load import run_post_load_checks
from .context import RunContext
from .errors import ChecksFailed
from .extract.json_staging import extract_legacy_json
from .extract.legacy_json import TARGET_TABLE
from .extract.source_snapshot import await_source_quick_check, extract_source
from .extract.usage_file import await_usage_file, offer_known_usage, pipeline_claims_dedup, start_usage_file
from .load.all_tables import load_all_tables
from .load.build_target import open_build
from .load.legacy_json import list_known_usage, load_legacy_json
from .load.model_catalog import CATALOG_TABLES, add_reference_models, load_model_catalog, resolve_legacy_ids
from .load.swap import finalise_build, start_flush, swap_into_place
from .load.unmapped import archive_unmapped
from .report.figures import compute_figures, start_figures
from .schema import create_indexes, missing_indexes, target_spec
from .transform.derived import DERIVED_TABLES, derive_daily_usage
from .transform.model_ids import plan_catalog, resolve_references, shipped_aliases
from .transform.references import json_text_references, source_models, target_text_references, text_references


def transform_model_ids(ctx: RunContext) -> None:
    """Decide every model's internal_id (contract section 4) before any row is loaded."""
    conn, aliases = ctx.conn, shipped_aliases()
    models, blank = source_models(conn, ctx.source_columns.get("openrouter_models", []))
    catalog = dict(conn.execute("SELECT openrouter_id, internal_id FROM main.openrouter_models"))
    model_map = plan_catalog(models, catalog, aliases)
    texts = text_references(conn, ctx.source_columns) + target_text_references(conn)
    ctx.model_map = resolve_references(model_map, texts, aliases)
    ctx.model_rowids = {m.rowid: i for i, m in enumerate(sorted(models, key=lambda m: m.rowid))}
    if blank:
        ctx.notes.append(f"openrouter_models rows without an openrouter_id (rowid {', '.join(blank)}) are quarantined")


def transform_json_model_ids(ctx: RunContext) -> None:
    """Catalog rows for the models the legacy JSON files name and nothing else did (rule 5):
    their records are read beside the table loads, so their references are resolved after."""
    known = {d.source for d in ctx.model_map.references}
    before = len(ctx.model_map.references)
    resolve_references(ctx.model_map, [t for t in json_text_references(ctx.conn) if t not in known], shipped_aliases())
    add_reference_models(ctx, ctx.model_map.references[before:])


def load_catalog(ctx: RunContext) -> None:
    load_model_catalog(ctx, ctx.model_rowids)
    ctx.model_resolutions = resolve_legacy_ids(ctx)


def post_load_checks(ctx: RunContext) -> None:
    results = run_post_load_checks(ctx)
    failed = [r for r in results if not r.ok and r.severity == "error"]
    if failed:
        ctx.outcome = "checks_failed"
        raise ChecksFailed(f"post-load check failed: {failed[0].name}: {failed[0].detail} (nothing was swapped in)")


def _create_indexes(ctx: RunContext, tables: set[str] | None) -> None:
    statements = missing_indexes(ctx.conn, tables)
    bar = ctx.bar("indexes", len(statements), "indexes")
    create_indexes(ctx.conn, lambda done, table: bar.update(done, table), statements)
    bar.close()


def build_indexes(ctx: RunContext) -> None:
    """Every index not built yet."""
    _create_indexes(ctx, None)


def settled_tables() -> set[str]:
    """The target tables no stage after load.tables writes to: not fed by a legacy JSON file,
    not derived, not the model catalog (which the JSON files' models add to)."""
    written_later = {t for t in TARGET_TABLE.values() if t} | set(DERIVED_TABLES) | set(CATALOG_TABLES)
    return set(target_spec()["tables"]) - written_later


def index_settled_tables(ctx: RunContext) -> None:
    """The indexes of the settled tables, built once the tables are loaded and before the usage
    file's child is awaited: time the pipeline would spend waiting for it goes into indexes it
    builds anyway. Only speed depends on the list: load.build_indexes creates whatever is
    missing, and an index built early is kept up to date by any later insert."""
    _create_indexes(ctx, settled_tables())


def known_usage(ctx: RunContext) -> None:
    """The usage rows the usage file's records are de-duplicated against, listed while its
    child still reads (load/legacy_json.py: `list_known_usage`): the pipeline would wait then.
    Nothing to list when the child, done first, has claimed the de-duplication."""
    if "usage_file" in ctx.background and pipeline_claims_dedup(ctx):
        list_known_usage(ctx)


def finalise_and_swap(ctx: RunContext) -> None:
    finalise_build(ctx)
    swap_into_place(ctx)


STAGES: dict[str, Callable[[RunContext], None]] = {
    "extract.source_snapshot": extract_source,
    "checks.source_quick_check": await_source_quick_check,
    "checks.start_source_expectations": start_source_expectations,
    "checks.source_expectations": source_expectations,
    "extract.legacy_json": extract_legacy_json,
    "extract.start_usage_file": start_usage_file,
    "extract.usage_file": await_usage_file,
    "transform.json_model_ids": transform_json_model_ids,
    "load.create_build_target": open_build,
    "transform.model_ids": transform_model_ids,
    "load.model_catalog": load_catalog,
    "load.tables": load_all_tables,
    "load.legacy_json": load_legacy_json,
    "transform.derived_tables": derive_daily_usage,
    "load.archive_unmapped": archive_unmapped,
    "report.start_figures": start_figures,
    "report.figures": compute_figures,
    "load.index_settled_tables": index_settled_tables,
    "transform.known_usage": known_usage,
    "transform.offer_known_usage": offer_known_usage,
    "load.build_indexes": build_indexes,
    "checks.post_load": post_load_checks,
    "checks.start_target_expectations": start_target_expectations,
    "checks.target_expectations": target_expectations,
    "load.start_flush": start_flush,
    "load.finalise_and_swap": finalise_and_swap,
}
