"""report.json: the machine-readable account of one run.

Stable top-level keys (documented in docs/report.md):
`tool`, `outcome`, `started_at`, `finished_at`, `source`, `target`, `tables`
(`<name>: {read, inserted, merged, duplicates, quarantined, created}`), `totals`
(`cost|tokens_input|tokens_output: {source, target, quarantined}`), `models`
(`[{source, internal_id, resolution}]`), `checks`, `drift`, `daily_cost`, `files`, `notes`, `stages` (`<stage>: seconds`, in run order).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..context import RunContext
from ..transform.values import format_utc


def build_report(ctx: RunContext, files: dict[str, list[Path]]) -> dict:
    models = ctx.model_map.report_rows() if ctx.model_map else []
    return {
        "tool": {"name": "hive-etl", "version": __version__},
        "outcome": ctx.outcome,
        "started_at": format_utc(ctx.now),
        "finished_at": format_utc(datetime.now(timezone.utc)),
        "source": {"path": str(ctx.source), "bytes_unchanged": ctx.source_stat is not None},
        "target": {
            "path": str(ctx.target),
            "swapped_in": ctx.swapped,
            "backup": str(ctx.backup_path) if ctx.backup_path else None,
        },
        "tables": {name: counts.as_dict() for name, counts in sorted(ctx.tables.items())},
        "sources": {name: counts.as_dict() for name, counts in sorted(ctx.sources.items())},
        "credits": {"loaded": False, "found": ctx.credit_sources,
                    "note": "credits are never stored locally in the Rust era: archived, not loaded"},
        "totals": ctx.totals,
        "models": models + ctx.model_resolutions,
        "checks": [{"name": c.name, "ok": c.ok, "severity": c.severity, "detail": c.detail} for c in ctx.checks],
        "expectations": ctx.expectations,
        "drift": ctx.drift,
        "conflicts": ctx.conflicts,
        "daily_cost": ctx.figures.get("daily_cost", []),
        "files": {kind: [str(p.relative_to(ctx.report_dir)) for p in paths] for kind, paths in files.items()},
        "notes": ctx.notes,
        "stages": ctx.stage_seconds,
    }


def write_report(ctx: RunContext, files: dict[str, list[Path]]) -> Path:
    ctx.report_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.report_dir / "report.json"
    path.write_text(json.dumps(build_report(ctx, files), indent=2, default=str) + "\n", encoding="utf-8")
    return path
