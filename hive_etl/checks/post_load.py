"""Post-load checks on the build database, run before anything is swapped in.

Each check is recomputed from the database itself, not from what the loader believes it
did: the schema is introspected and compared with the spec, page integrity is asked of
SQLite, the seeded catalog rows are compared with the spec, and the reconciliation terms
are compared with the rows actually present. Any failure means exit 1
and the original stays where it is.

Foreign keys and model references are proven once, by the target suite
(expectations/target.json), which runs beside these checks and gates the swap the same way:
it holds one `fk:` expectation per foreign key of the spec, and one `model ref:` expectation
per text model reference of pipelines/tables.yaml, canonicalised by the pipeline's own
function (tests/test_expectations.py holds it to both); the schema check here proves the built
file declares exactly the spec's keys. `PRAGMA foreign_key_check` here as well would probe
every key a second time (1.5-3 s on a heavy install, at the end of the run), and the model
references' DISTINCT scans the history tables a second time (0.3 s on heavy:0.5).

quick_check reads every page of the new file, the longest of these checks; once the build is
committed it runs on a connection of its own, in a thread beside the others
(SQLite releases the GIL while it works, so it takes the machine's other core).
"""

from __future__ import annotations

import math
import sqlite3
from concurrent.futures import ThreadPoolExecutor

from ..context import CheckResult, RunContext
from ..extract.source_snapshot import source_stat
from ..sqlite_files import open_readonly
from ..schema import diff_migrations, diff_tables, introspect, migration_rows, target_spec
from ..schema.introspect import parse_checks
from ..transform.table_plan import q


def _first(items: list[str], more: int = 5) -> str:
    shown = "; ".join(str(i) for i in items[:more])
    return shown + (f"; ... ({len(items)} in all)" if len(items) > more else "")


def check_schema(ctx: RunContext) -> CheckResult:
    spec = target_spec()
    diffs = diff_tables(introspect(ctx.conn), spec["tables"])
    diffs += diff_migrations(migration_rows(ctx.conn), spec["migration_tracking"]["versions"])
    return CheckResult("schema matches v13 spec", not diffs, _first(diffs))


def check_integrity(ctx: RunContext) -> CheckResult:
    """PRAGMA quick_check of the build: on a read-only connection of its own unless the load's
    transaction is still open (then only the build connection sees the rows). A read-only
    quick_check skips the CHECK constraints, so they are asked by one query per table
    (`_check_constraint_failures`). A read-write quick_check would check them itself, but it
    evaluates a CHECK's IN list as if anew for every row: 2.3 s against 0.2 s by query for
    activity_log's 500k rows on a heavy install (on a slow day)."""
    own = ctx.build_path is not None and not ctx.conn.in_transaction
    conn = open_readonly(ctx.build_path) if own else ctx.conn
    try:
        findings = [r[0] for r in conn.execute("PRAGMA main.quick_check") if r[0] != "ok"]
        if own:
            findings += _check_constraint_failures(conn)
    finally:
        if own:
            conn.close()
    return CheckResult("quick_check", not findings, _first(findings))


def _check_constraint_failures(conn: sqlite3.Connection) -> list[str]:
    """quick_check's finding for each CHECK constraint some row breaks (its expression is
    false, not NULL), with how many rows do: one scan per table that declares any."""
    failures = []
    tables = conn.execute("SELECT name, sql FROM main.sqlite_master WHERE type = 'table' "
                          "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    for table, sql in tables:
        checks = parse_checks(sql or "")
        if not checks:
            continue
        broken = conn.execute(f"SELECT {', '.join(f'coalesce(sum(NOT ({c})), 0)' for c in checks)} "
                              f"FROM main.{q(table)}").fetchone()
        failures += [f"CHECK constraint failed in {table}: {n} rows break ({check})"
                     for check, n in zip(checks, broken) if n]
    return failures


def check_seeded_models(ctx: RunContext) -> CheckResult:
    seeded = target_spec()["fresh_database_rows"]["openrouter_models"]
    have = dict(ctx.conn.execute("SELECT internal_id, openrouter_id FROM main.openrouter_models"))
    wrong = [f"{m['internal_id']} {m['openrouter_id']} (found {have.get(m['internal_id'])})"
             for m in seeded if have.get(m["internal_id"]) != m["openrouter_id"]]
    return CheckResult("seeded models keep internal_id 1..13", not wrong, _first(wrong))


def check_reconciliation(ctx: RunContext) -> CheckResult:
    problems = []
    for table, counts in sorted(ctx.tables.items()):
        if not counts.balanced():
            problems.append(f"{table}: read {counts.read} != inserted {counts.inserted} + merged {counts.merged} "
                            f"+ duplicates {counts.duplicates} + quarantined {counts.quarantined}")
        have = ctx.conn.execute(f"SELECT count(*) FROM main.{q(table)}").fetchone()[0]
        expected = ctx.target_rows_before.get(table, 0) + counts.inserted + counts.created
        if have != expected:
            problems.append(f"{table}: {have} rows in the target, expected {expected}")
    for name, s in sorted(ctx.sources.items()):
        if not s.balanced():
            problems.append(f"{name}: {s.records} records != loaded {s.loaded} + merged {s.merged} + duplicates "
                            f"{s.duplicates} + quarantined {s.quarantined} + archived {s.archived}")
    for name, t in ctx.totals.items():
        accounted = t["target"] - t["target_before"] + t["already_present"] + t["quarantined"]
        if not math.isclose(t["source"], accounted, rel_tol=1e-9, abs_tol=1e-9):
            problems.append(f"{name}: source {t['source']} != target {t['target']} - target before {t['target_before']} "
                            f"+ already present {t['already_present']} + quarantined {t['quarantined']}")
    return CheckResult("reconciliation identities hold", not problems, _first(problems))


def check_source_unchanged(ctx: RunContext) -> CheckResult:
    unchanged = source_stat(ctx) == ctx.source_stat
    detail = "" if unchanged else "the source was written to while migrating; close the app and run again"
    return CheckResult("source file unchanged during the run", unchanged, detail)


CHECKS = (check_schema, check_integrity, check_seeded_models, check_reconciliation, check_source_unchanged)
BESIDE = (check_integrity,)   # run in a thread while the others run; results are kept in CHECKS order


def run_post_load_checks(ctx: RunContext) -> list[CheckResult]:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="post-load") as thread:
        beside = {check: thread.submit(check, ctx) for check in CHECKS if check in BESIDE}
        here = {check: check(ctx) for check in CHECKS if check not in beside}
        results = [beside[check].result() if check in beside else here[check] for check in CHECKS]
    ctx.checks.extend(results)
    return results
