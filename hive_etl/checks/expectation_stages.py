"""The expectation suites as pipeline stages: the source suites on the source view, the
target suite on the new database before anything replaces the original.

Each suite set is two stages: `checks.start_*` starts it in a child process, which runs on
the other core while the pipeline goes on (the source suites as soon as the snapshot is
taken, but waiting for the usage file's child to finish before loading their library, so
the two take the second core in turn; the target suite as soon as the rows are final, beside
the last index builds and the post-load checks, which is why its start switches the build
file to WAL (load/build_target.py `open_to_readers`); the source suites' child stays and runs
the target suite too, so Great Expectations is imported once and one suites process runs at
a time); `checks.*_expectations` waits for it and records the outcome. A pipeline that lists
only the second runs it there.

Great Expectations is imported here only when a stage runs (hive_etl.checks.expectations
does the importing), so `hive-etl --help` never pays for it. Failures of severity "error"
stop the run with exit 1 (the report says which); "warning" ones are reported only.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..context import CheckResult, RunContext
from ..errors import ChecksFailed
from ..load.build_target import open_to_readers


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


class _Finished:
    """Suites already run in this process (for --data-docs, which needs the library's objects)."""

    def __init__(self, outcomes: list):
        self._outcomes = outcomes

    waiting = False

    def outcomes(self) -> list:
        return self._outcomes

    def stop(self) -> None:
        pass


def _start(ctx: RunContext, name: str, db_path: Path, suites: list[str], parameters: dict | None,
           immutable: bool | None, after: Path | None = None, then: str | None = None) -> None:
    """Start suites in a child process (flat memory here, another core), or run them in this one
    when Data Docs are wanted; `_await` collects the outcome. With `then`, the child stays for
    the suites started under that name later (the library is imported once)."""
    if ctx.data_docs:
        from .expectations import run_suites

        ctx.background[name] = _Finished(run_suites(db_path, suites, parameters, immutable=immutable, count_first=False))
        return
    from .suite_worker import SuitesInChild, suites_request

    request = suites_request(db_path, suites, parameters, immutable, after)
    if name in ctx.background:                     # a child stays for it: hand it the request
        ctx.background[name].run(request)
    else:                                          # started with it: nothing to race with
        ctx.background[name] = SuitesInChild(ctx.work_dir, name, request, then=then)
        if then and then not in ctx.background:
            ctx.background[then] = ctx.background[name].following()


def _await(ctx: RunContext, name: str, start) -> list:
    if name not in ctx.background or ctx.background[name].waiting:  # a pipeline that does not start it early
        start(ctx)
    return ctx.background.pop(name).outcomes()


def start_source_expectations(ctx: RunContext) -> None:
    from .expectations import source_suites

    usage = ctx.background.get("usage_file")    # still staging the usage file: the suites follow it
    _start(ctx, "source", _snapshot_file(ctx), source_suites(), None, True, usage.result_path if usage else None,
           then="target")


def source_expectations(ctx: RunContext) -> None:
    _record(ctx, _await(ctx, "source", start_source_expectations), "source")


def start_target_expectations(ctx: RunContext) -> None:
    from .expectations import parameters_from_context

    open_to_readers(ctx)  # the child sees every row, and reads beside any index still being built
    _start(ctx, "target", ctx.build_path, ["target"], parameters_from_context(ctx, credits=ctx.credits),
           immutable=False)  # never: this process still writes the file


def target_expectations(ctx: RunContext) -> None:
    _record(ctx, _await(ctx, "target", start_target_expectations), "target")
