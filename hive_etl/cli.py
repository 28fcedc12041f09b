"""The `hive-etl` command line: a thin layer over hive_etl.pipeline.

Exit codes: 0 migrated; 1 post-load checks failed (nothing swapped in); 2 bad input or
usage, with a one-line message; 3 an internal error (a bug: the one line says so, and
HIVE_ETL_DEBUG=1 shows the traceback).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

from . import __version__
from .errors import EXIT_INTERNAL, HiveEtlError


def hive_dir(home: Path) -> Path:
    """The folder holding hive-ai.db: $HIVE_HOME if set, else <home>/.hive."""
    override = os.environ.get("HIVE_HOME")
    return Path(override).expanduser() if override else home / ".hive"


def _fail(exc: BaseException) -> None:
    if isinstance(exc, HiveEtlError):
        click.echo(f"hive-etl: error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    if os.environ.get("HIVE_ETL_DEBUG"):
        raise exc
    click.echo(f"hive-etl: internal error: {type(exc).__name__}: {exc} (set HIVE_ETL_DEBUG=1 for details)", err=True)
    sys.exit(EXIT_INTERNAL)


def _summary(report: dict) -> str:
    lines = [f"{'table':<28}{'read':>9}{'inserted':>10}{'merged':>8}{'dups':>6}{'quarant.':>9}{'created':>8}"]
    for name, t in report["tables"].items():
        lines.append(f"{name:<28}{t['read']:>9}{t['inserted']:>10}{t['merged']:>8}{t['duplicates']:>6}"
                     f"{t['quarantined']:>9}{t['created']:>8}")
    for name, t in report["totals"].items():
        line = f"total {name}: source {t['source']:g} = target {t['target']:g}"
        if t["target_before"] or t["already_present"]:
            line += f" - target before {t['target_before']:g} + already present {t['already_present']:g}"
        lines.append(line + f" + quarantined {t['quarantined']:g}")
    return "\n".join(lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hive-etl")
def main() -> None:
    """Move a Hive AI TypeScript-era hive-ai.db into the Rust-era schema (version 13)."""
    # Nothing here does linear algebra, but numpy (imported by pyarrow and the expectation
    # library) starts an OpenBLAS thread per core that spins for a while: 0.09 s of CPU in the
    # pipeline's process and 0.03 s in the usage file's child on half the heavy install, taken
    # from the busy cores. Set before anything imports numpy (the children inherit it); a
    # value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


home_option = click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=Path("~"),
                           show_default=True, help="User's home folder holding .hive/ and .hive-ai/.")


def run_options(command):
    """The options `migrate` and `dry-run` share."""
    for option in reversed([
        home_option,
        click.option("--source", type=click.Path(dir_okay=False, path_type=Path),
                     help="TypeScript-era database [default: <home>/.hive/hive-ai.db]."),
        click.option("--target", type=click.Path(dir_okay=False, path_type=Path),
                     help="Where the Rust-era database goes [default: the source path, original kept as a backup]."),
        click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Report folder [default: <home>/.hive/migration-reports/<UTC time>/]."),
        click.option("--data-docs", is_flag=True, help="Also build Great Expectations Data Docs into <report-dir>/data-docs."),
    ]):
        command = option(command)
    return command


def _progress_printer():
    """Progress lines on a terminal; nothing in CI or when stderr is not a TTY."""
    if os.environ.get("CI") or not sys.stderr.isatty():
        return None
    started = time.perf_counter()
    return lambda line: click.echo(f"{time.perf_counter() - started:7.1f}s {line}", err=True)


def _run(pipeline: str, home: Path, source: Path | None, target: Path | None, report_dir: Path | None,
         data_docs: bool = False) -> None:
    import json

    from .context import RunContext
    from .pipeline import run_pipeline

    try:
        now = datetime.now(timezone.utc)
        home = home.expanduser()
        source = (source or hive_dir(home) / "hive-ai.db").expanduser().absolute()
        target = (target or source).expanduser().absolute()
        report_dir = (report_dir or hive_dir(home) / "migration-reports" / now.strftime("%Y%m%dT%H%M%SZ")).expanduser().absolute()
        ctx = RunContext(source=source, target=target, home=home, report_dir=report_dir, now=now,
                         dry_run=pipeline == "dry_run", data_docs=data_docs, progress=_progress_printer())
        report_path = run_pipeline(ctx, pipeline)
        report = json.loads(report_path.read_text(encoding="utf-8"))
        click.echo(_summary(report))
        for warning in ctx.warnings:
            click.echo(f"hive-etl: warning: {warning}", err=True)
        if ctx.dry_run:
            click.echo(f"dry run: nothing was written to {target}; checks {'passed' if report['outcome'] == 'dry_run' else 'failed'}")
        else:
            click.echo(f"migrated: {target}")
        click.echo(f"report:   {report_path}")
        if ctx.backup_path:
            click.echo(f"original kept as {ctx.backup_path}")
            click.echo(f"to undo:  hive-etl restore --database {target} --backup {ctx.backup_path}")
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - every failure ends in one line
        _fail(exc)


@main.command()
@run_options
def migrate(home: Path, source: Path | None, target: Path | None, report_dir: Path | None, data_docs: bool) -> None:
    """Migrate the source database into a new Rust-era database and swap it in."""
    _run("migrate", home, source, target, report_dir, data_docs)


@main.command("dry-run")
@run_options
def dry_run(home: Path, source: Path | None, target: Path | None, report_dir: Path | None, data_docs: bool) -> None:
    """Do everything `migrate` does in a scratch database and write the report; change nothing else."""
    _run("dry_run", home, source, target, report_dir, data_docs)


@main.command()
@home_option
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path), help="The migrated database [default: <home>/.hive/hive-ai.db].")
@click.option("--backup", type=click.Path(dir_okay=False, path_type=Path), help="Backup to restore [default: the newest <database>.backup-* beside it].")
def restore(home: Path, database: Path | None, backup: Path | None) -> None:
    """Put a backup taken by `migrate` back in place of the migrated database."""
    from .errors import BadInput
    from .load.swap import latest_backup, restore_backup

    try:
        database = (database or hive_dir(home.expanduser()) / "hive-ai.db").expanduser().absolute()
        backup = backup.expanduser().absolute() if backup else latest_backup(database)
        if backup is None:
            raise BadInput(f"restore: no {database.name}.backup-* found beside {database}; name one with --backup")
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        kept = restore_backup(database, backup, stamp)
        click.echo(f"restored {backup} to {database}")
        if kept:
            click.echo(f"the database it replaced is kept as {kept}")
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001
        _fail(exc)


@main.command()
@click.option("--db", "db", required=True, type=click.Path(path_type=Path), help="The SQLite database to check (opened read-only).")
@click.option("--suite", default="target", show_default=True,
              help="'target' (a migrated v13 database), 'source' (every source.* suite, a TypeScript-era database) or one suite name from expectations/.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="report.json of the migration that wrote --db: row counts, totals and credits to compare with (without it those expectations are skipped).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results as JUnit XML to this file.")
def check(db: Path, suite: str, report_path: Path | None, junit: Path | None) -> None:
    """Run expectation suites against a database: exit 1 when an "error" expectation fails."""
    import json

    from .errors import BadInput, ChecksFailed
    from .sqlite_files import read_header

    try:
        db = db.expanduser().absolute()
        read_header(db, "database")
        from .checks import expectations as ex
        from .checks.junit import write_junit

        if suite == "source":
            names = ex.source_suites()
        elif suite in ex.list_suites():
            names = [suite]
        else:
            raise BadInput(f"--suite {suite}: no such suite; expected target, source or one of {', '.join(ex.list_suites())}")
        parameters = None
        if report_path is not None:
            try:
                report = json.loads(report_path.expanduser().read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise BadInput(f"report {report_path}: cannot be read as JSON ({exc})") from None
            if not isinstance(report, dict):
                raise BadInput(f"report {report_path}: expected a report.json object")
            parameters = ex.parameters_from_report(report)
        outcomes = ex.run_suites(db, names, parameters)
        if junit is not None:
            write_junit(outcomes, junit.expanduser())
        skipped: dict[str, int] = {}
        for outcome in outcomes:
            for r in outcome.failed():
                click.echo(f"{r.severity.upper():<8}{outcome.suite}: {r.name} ({r.where}): {r.observed}")
            for r in outcome.skipped():
                why = ("needing figures from the migration's report.json (pass --report FILE)" if "parameter" in r.observed
                       else "needing tables or columns this database lacks")
                skipped[why] = skipped.get(why, 0) + 1
        for why, count in skipped.items():
            click.echo(f"SKIPPED {count} expectation{'s' if count != 1 else ''} {why}")
        results = [r for o in outcomes for r in o.results]
        errors = sum(len(o.failed("error")) for o in outcomes)
        warnings = sum(len(o.failed("warning")) for o in outcomes)
        passed = sum(len(o.passed()) for o in outcomes)
        label = names[0] if len(names) == 1 else f"{len(names)} suites"
        click.echo(f"{label}: {len(results)} expectations, {passed} passed, {errors + warnings} failed "
                   f"({errors} error, {warnings} warning), {sum(skipped.values())} skipped "
                   f"in {sum(o.seconds for o in outcomes):.1f} s")
        if junit is not None:
            click.echo(f"junit:   {junit}")
        if errors:
            raise ChecksFailed(f"{errors} expectation{'s' if errors != 1 else ''} of severity error failed on {db}")
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001
        _fail(exc)
