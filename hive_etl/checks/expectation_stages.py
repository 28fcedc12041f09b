"""The expectation suites as pipeline stages: the source suites after extract, the target
suite on the new database before anything replaces the original.

Great Expectations is imported here only when a stage runs (hive_etl.checks.expectations
does the importing), so `hive-etl --help` never pays for it. Failures of severity "error"
stop the run with exit 1 (the report says which); "warning" ones are reported only.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..context import CheckResult, RunContext
from ..errors import ChecksFailed


def _snapshot_file(ctx: RunContext) -> Path:
    return Path(unquote(urlsplit(ctx.snapshot_uri).path))


def _record(ctx: RunContext, outcomes, phase: str) -> None:
    ctx.suite_outcomes.extend(outcomes)
    for outcome in outcomes:
        ctx.expectations.extend({"suite": outcome.suite, **r.as_dict()} for r in outcome.results)
        failed = outcome.failed()
        errors = outcome.failed("error")
        detail = "; ".join(f"{r.name} ({r.where}): {r.observed}" for r in failed[:3])
        ctx.checks.append(CheckResult(f"{phase} expectations: {outcome.suite}", not errors,
                                      detail, "error" if errors else "warning"))
    errors = [(o.suite, r) for o in outcomes for r in o.failed("error")]
    if errors:
        ctx.outcome = "checks_failed"
        suite, first = errors[0]
        raise ChecksFailed(f"{phase} expectation failed: {suite}: {first.name} ({first.where}): {first.observed} "
                           f"({len(errors)} error expectation{'s' if len(errors) != 1 else ''} failed; nothing was swapped in)")


def _run(ctx: RunContext, db_path: Path, suites: list[str], parameters: dict | None, immutable: bool | None) -> list:
    """In a child process (flat memory here), or in this one when Data Docs are wanted."""
    if ctx.data_docs:
        from .expectations import run_suites

        return run_suites(db_path, suites, parameters, immutable=immutable)
    from .suite_worker import run_in_child

    return run_in_child(db_path, suites, parameters, immutable, ctx.work_dir)


def source_expectations(ctx: RunContext) -> None:
    from .expectations import source_suites

    _record(ctx, _run(ctx, _snapshot_file(ctx), source_suites(), None, True), "source")


def target_expectations(ctx: RunContext) -> None:
    from .expectations import parameters_from_context

    parameters = parameters_from_context(ctx, credits=ctx.credits)
    _record(ctx, _run(ctx, ctx.build_path, ["target"], parameters, None), "target")
