"""Run a pipeline (pipelines/<name>.yaml) over a run context, and end it cleanly.

Whatever happens, the work folder beside the target is removed and the source is left as
it was. The report folder is written only for runs that got as far as checking their
result (migrated, or checks failed); bad input leaves no output at all.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from .context import RunContext
from .errors import ChecksFailed
from .extract.source_snapshot import await_source_quick_check
from .load.build_target import check_free_space, check_target, make_work_dir, remove_work_dir
from .load.sidecars import Sidecars
from .report.json_report import write_report
from .report.write import write_reports
from .resources import pipeline_file
from .sqlite_files import read_header
from .stages import STAGES

Progress = Callable[[str], None]


# A stage that starts work which must be awaited before the run may succeed -> the stage that awaits it.
AWAITED_BY = {"extract.source_snapshot": "checks.source_quick_check", "report.start_figures": "report.figures",
              "load.start_flush": "load.finalise_and_swap"}


def stage_names(pipeline: str) -> list[str]:
    names = pipeline_file(f"{pipeline}.yaml")["stages"]
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise ValueError(f"pipelines/{pipeline}.yaml: unknown stage {unknown[0]!r}")
    for start, wait in AWAITED_BY.items():
        if start in names and (wait not in names or names.index(wait) < names.index(start)):
            raise ValueError(f"pipelines/{pipeline}.yaml: {start} must be followed by {wait}")
    return names


def _publish(ctx: RunContext, sidecars: Sidecars) -> Path:
    """Move the sidecar files into the report folder and write report.json beside them."""
    produced = sidecars.close()
    ctx.report_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[Path]] = {}
    for kind, paths in produced.items():
        files[kind] = []
        for path in paths:
            destination = ctx.report_dir / kind / path.name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), destination)
            files[kind].append(destination)
    path = write_report(ctx, files)
    if ctx.data_docs and ctx.suite_outcomes:
        from .checks.expectations import build_data_docs

        build_data_docs(ctx.suite_outcomes, ctx.report_dir / "data-docs")
    try:
        write_reports(json.loads(path.read_text(encoding="utf-8")), ctx.report_dir)
    except Exception as exc:  # noqa: BLE001 - the run's outcome stands; report.json holds it all
        ctx.warnings.append(f"report.md/report.html could not be written ({type(exc).__name__}: {exc}); "
                            f"report.json is complete")
    return path


def run_pipeline(ctx: RunContext, pipeline: str = "migrate", progress: Progress | None = None) -> Path:
    """Run every stage; return the path of report.json. Raises HiveEtlError subclasses."""
    names = stage_names(pipeline)
    read_header(ctx.source, "source")
    check_target(ctx)
    make_work_dir(ctx)
    try:
        check_free_space(ctx)
    except Exception:
        remove_work_dir(ctx)
        raise
    sidecars = Sidecars(ctx.work_dir / "sidecars")
    ctx.sidecars = sidecars
    progress = progress or ctx.progress
    try:
        for number, name in enumerate(names, 1):
            if progress:
                progress(f"[{number}/{len(names)}] {name}")
            started = time.perf_counter()
            try:
                STAGES[name](ctx)
            except sqlite3.DatabaseError:
                # Damage met in the source while its quick_check runs: quick_check says it best.
                await_source_quick_check(ctx)      # (nothing to await once it has been)
                raise
            finally:
                ctx.stage_seconds[name] = round(time.perf_counter() - started, 3)
        ctx.outcome = "dry_run" if ctx.dry_run else "migrated"
        return _publish(ctx, sidecars)
    except ChecksFailed:
        _publish(ctx, sidecars)
        raise
    finally:
        for job in ctx.background.values():  # a stage failed before its suites were awaited
            job.stop()
        ctx.background.clear()
        remove_work_dir(ctx)
