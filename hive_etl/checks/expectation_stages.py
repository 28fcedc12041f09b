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


def source_expectations(ctx: RunContext) -> None:
    from .expectations import run_source_suites

    _record(ctx, run_source_suites(_snapshot_file(ctx), immutable=True), "source")


def target_expectations(ctx: RunContext) -> None:
    from .expectations import parameters_from_context, run_suite

    parameters = parameters_from_context(ctx, credits=ctx.credits)
    _record(ctx, [run_suite(ctx.build_path, "target", parameters)], "target")
