"""The expectation engine: Great Expectations (1.x) suites from `expectations/*.json`, run
against a SQLite file, turned into plain outcomes.

The suites are data, reviewed like code (`expectations/README.md` says how they are
written): `source.<table>.json` for the TypeScript-era tables, `target.json` for the
migrated v13 database. This module loads them, fills in their parameters, runs them and
hands back `SuiteOutcome`/`ExpectationOutcome` dataclasses; the report, the CLI and the
JUnit writer see only those, never a Great Expectations object.

How a run goes:
- Great Expectations is imported inside the functions that need it, never at module level
  (gx_import.py, which defers scipy and altair until used): importing it costs about 1.3 s and
  170 MB that way (2.2 s and 250 MB plainly), and `hive-etl --help` or `migrate` must not pay
  that. Its analytics and progress bars are switched off (environment and context config),
  and it runs in an ephemeral (in-memory) context: nothing is written, nothing goes on the
  network.
- Every table is a SQLAlchemy-backed table asset over the SQLite file itself, opened
  read-only (`mode=ro`, plus `immutable=1` for a file nobody writes to), so each
  expectation is a SQL query and memory stays flat whatever the table's size: no table is
  ever loaded into pandas. Unexpected rows are capped at 200 by Great Expectations, column
  value samples at 20.
- A suite holds expectations over several tables (the target suite) or one (a source
  suite); they are grouped per table into one Great Expectations suite each, validated by
  the table's batch (`Batch.validate`), so many expectations share one validation and no
  suite, validation definition or result goes through the context's stores (each of which
  serialises what it is given: a third of the run time with ValidationDefinition.run).
- Parameters. In kwargs, Great Expectations' own `{"$PARAMETER": "expression"}`; in SQL text
  (`unexpected_rows_query`), `${name}`, replaced here by SQL literals before Great
  Expectations sees the query. Built-in parameters come from the project's own facts
  (`builtin_parameters()`: seeded models, migration versions, tiers, routing suffixes and
  renames, the canonicalisation CTEs); run-time ones (row counts, totals, credits) from a
  migration (`parameters_from_report`, `parameters_from_context`). An expectation whose
  run-time parameter is not given is *skipped* and reported as such, never failed.
- A table or column an expectation needs that the database lacks: skipped in a source
  suite (schema drift is allowed there), failed in the target suite (`meta.absent`).
- A suite's `meta.page_cache_kib` sets the page cache of the connections it runs on.

Pitfalls met with Great Expectations 1.24 (and worked around here):
- SQLAlchemy's `text()` reads `:word` as a bind parameter, even inside a string literal
  (`':nitro'`): queries are escaped (`\\:`) before they reach it.
- `{batch}` becomes `(SELECT * FROM t WHERE 1 = 1) AS subselect` (or, in a query with a JOIN,
  the same without the alias): it cannot be aliased again, so suites write
  `(SELECT * FROM {batch}) AS x` when they need an alias.
- A query without `{batch}` makes Great Expectations print() a warning on stdout.
- A missing `$PARAMETER` raises for the whole validation, not for one expectation.
- `ExpectationSuite.add_expectation` silently drops an expectation equal to one already
  there (meta is ignored in the comparison), and re-serialises the suite on every call:
  suites are built with their expectation list instead.
- An ephemeral context re-serialises its whole config to YAML after every asset added
  (quadratic in the number of tables): switched off on our context instance.
- SQLAlchemy percent-decodes the database part of the URL before SQLite decodes the URI
  again: paths are encoded twice (see sqlite_url).
- `result_format` set on an expectation is ignored for unexpected-rows details; it is set
  per validation: COMPLETE (unexpected rows, capped at 200) where a table has no
  column-map expectation, else the table gets two validations, the column-map ones with
  SUMMARY (20 sample values: COMPLETE would list every unexpected value).
- `unexpected_rows_expectation` computes the rows and their count as two metrics, each a
  full run of the query: every such expectation is first run as `hive_unexpected_rows_found`
  (the rows alone; the library fetches at most MAX_RESULT_RECORDS, 200, so fewer are their
  count too), and only those that filled the fetch run again as `hive_unexpected_row_count`
  (the count alone), then once more for their rows.
- A column-map expectation fetches its sample of unexpected values with one more full scan,
  even when the count says there are none: column-map expectations first run without
  samples (`partial_unexpected_count` 0, so LIMIT 0), and those that fail run again with
  SUMMARY.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from ..resources import data_dir, pipeline_file
from ..transform.model_ids import canonicalise, shipped_aliases
from .gx_import import import_gx

SEVERITIES = ("error", "warning")
SUITE_SUFFIX = ".json"
UNEXPECTED_ROWS = "unexpected_rows_expectation"
# Expectations whose COMPLETE result lists every unexpected value (see run_suites).
_COLUMN_MAP_PREFIXES = ("expect_column_values_", "expect_column_pair_values_", "expect_multicolumn_values_",
                        "expect_select_column_values_", "expect_compound_columns_")

# `${name}` in SQL text; names in a `$PARAMETER` expression.
_SQL_PARAM = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_EXPR_NAME = re.compile(r"(?<![\w.])([A-Za-z_][A-Za-z0-9_]*)")
_EXPR_WORDS = {"abs", "e", "min", "max", "round", "int", "float", "now", "timedelta"}
# SQLAlchemy's bind parameter pattern (sqlalchemy.sql.elements.TextClause._bind_params_regex).
_SA_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


# --------------------------------------------------------------------------- outcomes

@dataclass
class ExpectationOutcome:
    """One expectation's result, in plain terms. `success` is None when it was skipped."""

    name: str
    expectation_type: str
    column: str | None
    severity: str
    success: bool | None
    observed: str
    why: str
    table: str | None = None

    @property
    def status(self) -> str:
        return "skipped" if self.success is None else ("passed" if self.success else "failed")

    @property
    def where(self) -> str:
        """Where it looked, for messages: `table.column`, or the table alone."""
        if self.table and self.column:
            return f"{self.table}.{self.column}"
        return self.table or self.column or ""

    def as_dict(self) -> dict:
        """For report.json: every field plus `status`."""
        return {**asdict(self), "status": self.status}


@dataclass
class SuiteOutcome:
    suite: str
    results: list[ExpectationOutcome]
    seconds: float = 0.0
    # The Great Expectations validation results, kept only for build_data_docs().
    validation_results: list = field(default_factory=list, repr=False, compare=False)

    def passed_errors(self) -> bool:
        """True when no expectation of severity "error" failed (skipped ones do not count)."""
        return not self.failed("error")

    def failed(self, severity: str | None = None) -> list[ExpectationOutcome]:
        return [r for r in self.results if r.success is False and (severity is None or r.severity == severity)]

    def skipped(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if r.success is None]

    def passed(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if r.success]

    def as_dict(self) -> dict:
        """For report.json: `{suite, seconds, passed_errors, results: [...]}`."""
        return {"suite": self.suite, "seconds": round(self.seconds, 3), "passed_errors": self.passed_errors(),
                "results": [r.as_dict() for r in self.results]}


# --------------------------------------------------------------------------- suite files

def suites_dir() -> Path:
    return data_dir("expectations")


def list_suites() -> list[str]:
    """Every suite name: `target` and `source.<table>`, sorted."""
    return sorted(p.name[: -len(SUITE_SUFFIX)] for p in suites_dir().glob(f"*{SUITE_SUFFIX}"))


def source_suites() -> list[str]:
    return [name for name in list_suites() if name.startswith("source.")]


def load_suite(name: str) -> dict:
    """The suite file as data, checked for what this engine relies on (no GE import)."""
    path = suites_dir() / f"{name}{SUITE_SUFFIX}"
    if not path.is_file():
        raise KeyError(f"no expectation suite {name!r} (known: {', '.join(list_suites())})")
    suite = json.loads(path.read_text(encoding="utf-8"))
    problems = suite_problems(suite)
    if problems:
        raise ValueError(f"{path}: {problems[0]}")
    return suite


def suite_problems(suite: dict) -> list[str]:
    """What makes a suite file unusable: missing names, severities, whys, tables, duplicates."""
    problems, names = [], set()
    suite_table = (suite.get("meta") or {}).get("table")
    for i, exp in enumerate(suite.get("expectations") or []):
        meta = exp.get("meta") or {}
        label = meta.get("name") or f"expectation #{i}"
        if not meta.get("name"):
            problems.append(f"{label}: meta.name missing")
        elif meta["name"] in names:
            problems.append(f"{label}: meta.name used twice")
        names.add(meta.get("name"))
        if meta.get("severity") not in SEVERITIES:
            problems.append(f"{label}: meta.severity must be one of {SEVERITIES}")
        if not meta.get("why"):
            problems.append(f"{label}: meta.why missing")
        if not (meta.get("table") or suite_table):
            problems.append(f"{label}: no table (meta.table, or the suite's meta.table)")
        query = (exp.get("kwargs") or {}).get("unexpected_rows_query")
        if exp.get("type") == UNEXPECTED_ROWS and (not isinstance(query, str) or "{batch}" not in query):
            problems.append(f"{label}: unexpected_rows_query must use {{batch}}")
    return problems


def _table_of(suite: dict, exp: dict) -> str:
    return (exp.get("meta") or {}).get("table") or suite["meta"]["table"]


def _columns_of(exp: dict) -> list[str]:
    meta = exp.get("meta") or {}
    cols = [exp.get("kwargs", {}).get("column"), meta.get("column")] + list(meta.get("columns") or [])
    return [c for c in dict.fromkeys(cols) if c]


# --------------------------------------------------------------------------- parameters

class SqlText(str):
    """A built-in parameter that is SQL text, inserted as it is (not as a literal)."""


def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "NULL"
    return "'" + str(value).replace("'", "''") + "'"


def render_sql_value(value: Any) -> str:
    """A parameter as SQL: a list of scalars is `a, b`, a list of tuples `(a, b), (c, d)`."""
    if isinstance(value, SqlText):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if not items:
            return "NULL"
        return ", ".join(
            "(" + ", ".join(sql_literal(v) for v in item) + ")" if isinstance(item, (list, tuple)) else sql_literal(item)
            for item in items
        )
    return sql_literal(value)


# `canonical_ctes`: written after a CTE `refs(raw)`, it defines `hive_canonical(kind, raw, id)`
# for every reference (kind 'ref') and every catalog openrouter_id (kind 'catalog') that is
# neither NULL nor blank, by `hive_model_id` (model_id_sql below).
CANONICAL_CTES = (
    "hive_canonical(kind, raw, id) AS ("
    "SELECT 'ref', raw, hive_model_id(raw) FROM refs WHERE hive_model_id(raw) IS NOT NULL "
    "UNION SELECT 'catalog', \"openrouter_id\", hive_model_id(\"openrouter_id\") FROM \"openrouter_models\" "
    "WHERE hive_model_id(\"openrouter_id\") IS NOT NULL)"
)


def model_id_sql(value) -> str | None:
    """`hive_model_id(value)`, the SQL function the suites' queries call: the canonical id
    hive_etl.transform.model_ids.canonicalise gives the value (with the shipped aliases), or
    NULL for NULL and for a value that is blank. Any characters, and any type, by its Python
    text (`42`, `b'...'`)."""
    if value is None:
        return None
    text = str(value)
    return canonicalise(text, shipped_aliases()).id if text.strip() else None


def register_sql_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the suites' queries may call, on one connection."""
    conn.create_function("hive_model_id", 1, model_id_sql, deterministic=True)


def builtin_parameters() -> dict[str, Any]:
    """Parameters every run has, taken from the project's own facts (never from a migration)."""
    from ..schema import target_spec

    spec, aliases = target_spec(), shipped_aliases()
    return {
        "seeded_models": [(m["internal_id"], m["openrouter_id"]) for m in spec["fresh_database_rows"]["openrouter_models"]],
        "migration_versions": [tuple(v) for v in spec["migration_tracking"]["versions"]],
        "subscription_tiers": list(pipeline_file("tables.yaml")["subscription_tiers"]),
        "routing_suffixes": list(aliases.suffixes),
        "model_renames": sorted(aliases.renames.items()),
        "canonical_ctes": SqlText(CANONICAL_CTES),
    }


def parameters_used(exp: dict) -> set[str]:
    """Every parameter name an expectation refers to, in SQL text or `$PARAMETER` expressions."""
    names: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            if "$PARAMETER" in value:
                names.update(n for n in _EXPR_NAME.findall(str(value["$PARAMETER"])) if n not in _EXPR_WORDS)
            else:
                for v in value.values():
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            names.update(_SQL_PARAM.findall(value))

    walk(exp.get("kwargs") or {})
    return names


def _substitute(value: Any, params: dict[str, Any]) -> Any:
    """`${name}` in every string of the kwargs replaced by SQL; `$PARAMETER` dicts left to GE."""
    if isinstance(value, dict):
        return value if "$PARAMETER" in value else {k: _substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, params) for v in value]
    if isinstance(value, str):
        return _SQL_PARAM.sub(lambda m: render_sql_value(params[m.group(1)]), value)
    return value


def escape_colons(query: str) -> str:
    """Keep SQLAlchemy text() from reading `:word` (in a string literal too) as a bind parameter."""
    return _SA_BIND.sub(lambda m: "\\" + m.group(0), query)


def _seeded_counts() -> dict[str, int]:
    from ..schema import target_spec

    return {t: len(rows) for t, rows in target_spec()["fresh_database_rows"].items()}


def _target_tables() -> list[str]:
    from ..schema import target_spec

    return sorted(target_spec()["tables"])


def parameters_from_counts(tables: dict[str, dict], totals: dict[str, dict], before: dict[str, int] | None,
                           credits: Iterable[float] | None = None) -> dict[str, Any]:
    """Run-time parameters of the target suite from reconciliation figures.

    `rows_<table>` = rows before the load + inserted + created (tables absent from `tables`
    added nothing); `total_<column>` = target total before + source total - quarantined -
    already present (a merge), the amount the target must hold; `credits_remaining` = every credits figure read from the legacy JSON files.
    With `before` None the target is taken to have been fresh (the app's seeded rows only).
    """
    before = _seeded_counts() if before is None else before
    params: dict[str, Any] = {}
    for table in _target_tables():
        t = tables.get(table) or {}
        params[f"rows_{table}"] = int(before.get(table, 0)) + int(t.get("inserted", 0)) + int(t.get("created", 0))
    for column, total in (totals or {}).items():
        # What the target must hold: what it had, plus what the source brought that it lacked.
        params[f"total_{column}"] = (float(total.get("target_before") or 0) + float(total["source"])
                                     - float(total.get("quarantined") or 0) - float(total.get("already_present") or 0))
    values = sorted({float(v) for v in credits or () if isinstance(v, (int, float)) and not isinstance(v, bool)})
    if values:
        params["credits_remaining"] = values
    return params


def _credit_values(data: Any) -> list[float]:
    found: list[float] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if "credits_remaining" in str(key).lower() or str(key) in ("creditsRemaining",):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    found.append(float(value))
                elif isinstance(value, list):
                    found += [float(v) for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
            found += _credit_values(value)
    elif isinstance(data, list):
        for item in data:
            found += _credit_values(item)
    return found


def parameters_from_report(report: dict) -> dict[str, Any]:
    """Run-time parameters from a report.json (see parameters_from_counts).

    Rows before the load come from `tables.<t>.before` when the report has it; without it
    the target is taken to have been fresh, unless the report says it merged into an existing
    database (`target.merged`), in which case row counts are left out (so skipped). Credits
    are every number under a `credits_remaining` key anywhere in the report.
    """
    tables = report.get("tables") or {}
    target = report.get("target") or {}
    merged = bool(target.get("merged") or target.get("merge") or target.get("existing"))
    have_before = tables and all("before" in t for t in tables.values())
    before = {name: t["before"] for name, t in tables.items()} if have_before else None
    params = parameters_from_counts(tables, report.get("totals") or {}, before, _credit_values(report))
    if merged and not have_before:
        params = {k: v for k, v in params.items() if not k.startswith("rows_")}
    return params


def parameters_from_context(ctx, credits: Iterable[float] | None = None) -> dict[str, Any]:
    """Run-time parameters from a migration's RunContext, for the target suite inside the pipeline."""
    tables = {name: counts.as_dict() for name, counts in ctx.tables.items()}
    return parameters_from_counts(tables, ctx.totals, dict(ctx.target_rows_before), credits)


# --------------------------------------------------------------------------- running

def _context(gx):
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    # An ephemeral context still serialises its whole configuration to YAML (into an in-memory
    # store nobody reads back) after every datasource, asset or batch definition added: with
    # one asset per table that is quadratic and was a third of a run. Skip it on this instance.
    if hasattr(context, "_save_project_config"):
        context._save_project_config = lambda *args, **kwargs: None
    return context


_page_cache_kib = 0   # of the connections the library opens from now on (0: SQLite's own 2 MB)


def _prepare_connection(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        register_sql_functions(dbapi_connection)
        if _page_cache_kib:
            dbapi_connection.execute(f"PRAGMA cache_size = -{_page_cache_kib}")


def _prepare_connections(kib: int) -> None:
    """Every connection the library opens from now on gets the suites' SQL functions
    (register_sql_functions) and the page cache set for these suites (suite
    `meta.page_cache_kib`; the largest of them). The target suite asks for 32 MB: its
    foreign-key expectations probe a parent's key index once per child row, in the child's
    order (2.4M usage records into 200k conversations' keys, 12 MB of index, read again and
    again from the OS through 2 MB: 0.45 s of its 2.8 s on the heavy install; through 8 MB
    still 0.2 s more than through 32). SQLite takes the pages only as it reads them, and
    the suites' process has the room since the library's import leaves scipy out."""
    global _page_cache_kib
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _page_cache_kib = int(kib or 0)
    if not event.contains(Engine, "connect", _prepare_connection):
        event.listen(Engine, "connect", _prepare_connection)


def read_immutable(db_path: Path) -> bool:
    """Whether to open the file `immutable=1`, as hive_etl.sqlite_files.open_readonly decides."""
    from ..sqlite_files import wants_immutable

    return wants_immutable(Path(db_path))


def sqlite_url(db_path: Path, immutable: bool = False) -> str:
    """A read-only SQLAlchemy URL for the file (immutable: no locks, no -wal/-shm, no writes).

    SQLAlchemy percent-decodes the database part of a URL and hands the result to SQLite as
    a URI, which decodes it again: a path with a space, `?`, `#` or `%` must be encoded twice.
    The encoding that makes SQLAlchemy pass exactly `file:<encoded path>` is the one used.
    """
    from sqlalchemy.engine import make_url

    path = quote(str(Path(db_path).absolute()))
    options = f"?mode=ro{'&immutable=1' if immutable else ''}&uri=true"
    for encoded in (path, quote(path)):
        url = f"sqlite:///file:{encoded}{options}"
        if make_url(url).database == f"file:{path}":
            return url
    raise ValueError(f"{db_path}: cannot be written as an SQLAlchemy URL")


def _inventory(db_path: Path, immutable: bool) -> dict[str, set[str]]:
    """Tables (and sqlite_master) of the file with their columns, read with the standard library."""
    uri = f"file:{quote(str(Path(db_path).absolute()))}?mode=ro{'&immutable=1' if immutable else ''}"
    conn = sqlite3.connect(uri, uri=True)
    try:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        found = {n: {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (n,))} for n in names}
    finally:
        conn.close()
    found["sqlite_master"] = {"type", "name", "tbl_name", "rootpage", "sql"}
    return found


@dataclass
class _Planned:
    exp: dict
    suite: str
    table: str
    skip: str | None = None     # reason, when not run
    fail: str | None = None     # reason, when failed without running
    kwargs: dict | None = None


def _plan(suite_name: str, suite: dict, inventory: dict[str, set[str]], params: dict[str, Any],
          builtins: dict[str, Any], only: set[str] | None) -> list[_Planned]:
    absent = (suite.get("meta") or {}).get("absent", "fail")
    planned = []
    for exp in suite["expectations"]:
        name = exp["meta"]["name"]
        if only is not None and name not in only:
            continue
        p = _Planned(exp, suite_name, _table_of(suite, exp))
        missing = []
        if p.table not in inventory:
            missing.append(f"table {p.table}")
        else:
            missing += [f"column {p.table}.{c}" for c in _columns_of(exp) if c not in inventory[p.table]]
        missing += [f"table {t}" for t in exp["meta"].get("requires") or () if t not in inventory]
        if missing:
            reason = f"absent from this database: {', '.join(missing)}"
            if absent == "skip":
                p.skip = reason
            else:
                p.fail = reason
        else:
            needed = parameters_used(exp)
            lacking = sorted(n for n in needed if n not in params and n not in builtins)
            if lacking:
                p.skip = f"needs parameter {', '.join(lacking)} (from a migration report)"
            else:
                p.kwargs = _substitute(exp.get("kwargs") or {}, {**builtins, **params})
                if exp["type"] == UNEXPECTED_ROWS:
                    p.kwargs["unexpected_rows_query"] = escape_colons(p.kwargs["unexpected_rows_query"])
        planned.append(p)
    return planned


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _exception_message(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception") is True:
        return str(info.get("exception_message") or "exception")
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception") is True:
            return str(value.get("exception_message") or "exception")
    return None


def _expected_of(kwargs: dict, params: dict) -> str:
    """The resolved bound(s) of an aggregate expectation, for the observed text."""
    from great_expectations.core.suite_parameters import build_suite_parameters

    resolved, _ = build_suite_parameters(
        {k: v for k, v in kwargs.items() if k in ("value", "min_value", "max_value")}, params)
    if "value" in resolved:
        return f"expected {resolved['value']}"
    lo, hi = resolved.get("min_value"), resolved.get("max_value")
    return f"expected {lo:.12g}..{hi:.12g}" if isinstance(lo, float) or isinstance(hi, float) else f"expected {lo}..{hi}"


def _observed(result, planned: _Planned, params: dict) -> tuple[bool, str]:
    error = _exception_message(result.exception_info)
    if error:
        return False, "error: " + _short(error.splitlines()[0])
    res = result.result or {}
    exp_type = planned.exp["type"]
    if exp_type == UNEXPECTED_ROWS:
        count = res.get("observed_value") or 0
        rows = (res.get("details") or {}).get("unexpected_rows") or []
        if not count:
            return bool(result.success), "0 rows"
        sample = "; ".join(_short(r, 160) for r in rows[:5])
        more = f" (first {min(5, len(rows))})" if count > 5 else ""
        return bool(result.success), _short(f"{count} row{'s' if count != 1 else ''}{more}: {sample}", 600)
    if "unexpected_count" in res:
        count, total = res.get("unexpected_count") or 0, res.get("element_count")
        if not count:
            return bool(result.success), f"0 of {total} rows unexpected"
        sample = res.get("partial_unexpected_list") or []
        return bool(result.success), _short(f"{count} of {total} rows unexpected, e.g. {json.dumps(sample[:8], default=str)}", 600)
    observed = res.get("observed_value")
    text = _short(observed if isinstance(observed, str) else json.dumps(observed, default=str))
    try:
        text += f" ({_expected_of(planned.kwargs or {}, params)})"
    except Exception:  # noqa: BLE001 - the expected bound is a courtesy in the text
        pass
    return bool(result.success), text


def _outcome(p: _Planned, success: bool | None, observed: str) -> ExpectationOutcome:
    meta = p.exp["meta"]
    columns = _columns_of(p.exp)
    return ExpectationOutcome(
        name=meta["name"], expectation_type=p.exp["type"], column=", ".join(columns) or None,
        severity=meta["severity"], success=success, observed=observed, why=meta["why"], table=p.table,
    )


COUNT_ONLY = "hive_unexpected_row_count"
ROWS_ONLY = "hive_unexpected_rows_found"


def _counts_only_format() -> dict:
    """Column-map results with their counts and no sample values: the library's query for the
    samples then has LIMIT 0, which SQLite answers without reading the table. A new dict on
    every call: the library fills in the one it is given."""
    return {"result_format": "BASIC", "partial_unexpected_count": 0}


_split_registered = False


def _split_unexpected_rows() -> None:
    """Register the two halves of an unexpected-rows expectation.

    Great Expectations' own computes both of its metrics, the rows and their count, so every
    query (a full scan when the data is clean) runs twice. `hive_unexpected_rows_found` only
    fetches the rows (at most the library's MAX_RESULT_RECORDS); `hive_unexpected_row_count`
    only counts, for the expectations with that many rows, whose rows are then fetched again. Same outcome, one
    query each but for those (was two, and four where rows were found)."""
    global _split_registered
    if _split_registered:
        return
    from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation

    class HiveUnexpectedRowCount(UnexpectedRowsExpectation):  # registered by its snake-case name
        metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.row_count",)

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None) -> dict:
            count = metrics["unexpected_rows_query.row_count"]
            return {"success": count == 0, "result": {"observed_value": count}}

    class HiveUnexpectedRowsFound(UnexpectedRowsExpectation):
        metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.table",)

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None, execution_engine=None) -> dict:
            rows = metrics["unexpected_rows_query.table"]
            return {"success": not rows, "result": {"observed_value": None, "details": {"unexpected_rows": rows}}}

    _split_registered = True


def _validate(gx, batch, suite_name: str, ge_params: dict, run_id, raw_results: list, results: dict,
              counts: dict, members: list, result_format: str, half: str | None, meta: dict) -> dict[int, bool | None]:
    """Validate `members` on `batch` as one suite; their outcomes go into `results` (by id),
    the library's result into `raw_results`. Returns each member's success. `half` runs the
    unexpected-rows expectations as their "count" (kept in `counts`) or their "rows" (with the
    count kept before), or their rows first ("rows_first": fewer than MAX_RESULT_RECORDS rows
    are all of them, and that is their count; the others get no outcome here); None as the
    library's own."""
    from great_expectations.constants import MAX_RESULT_RECORDS   # the most unexpected rows it fetches
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    if half:
        _split_unexpected_rows()
    as_type = {"count": COUNT_ONLY, "rows": ROWS_ONLY, "rows_first": ROWS_ONLY}.get(half)
    by_name = {p.exp["meta"]["name"]: p for p in members}
    objects = [ExpectationConfiguration(
        type=as_type if as_type and p.exp["type"] == UNEXPECTED_ROWS else p.exp["type"],
        kwargs=dict(p.kwargs), meta=dict(p.exp["meta"]), notes=p.exp.get("notes"),
        severity="critical" if p.exp["meta"]["severity"] == "error" else "warning").to_domain_obj()
        for p in members]
    # Validated by the batch itself (Batch.validate): no suite, validation definition or
    # result goes through the context's stores, each of which serialises it.
    suite_obj = gx.ExpectationSuite(name=suite_name, expectations=objects, meta=meta)
    run = batch.validate(suite_obj, expectation_parameters=ge_params, result_format=result_format)
    run.meta.setdefault("run_id", run_id)
    raw_results.append(run)
    succeeded: dict[int, bool | None] = {}
    for result in run.results:
        p = by_name.get((result.expectation_config.meta or {}).get("name"))
        if p is None:
            continue
        if p.exp["type"] == UNEXPECTED_ROWS and result.result is not None:
            if half == "count":
                counts[id(p)] = result.result.get("observed_value")
            elif half == "rows":
                if counts.get(id(p)) is None:
                    continue            # its count failed: that outcome (the error) stands
                result.result["observed_value"] = counts[id(p)]
            elif half == "rows_first":
                rows = (result.result.get("details") or {}).get("unexpected_rows") or []
                if len(rows) >= MAX_RESULT_RECORDS:
                    continue            # as many as the library fetches: counted, then fetched again
                counts[id(p)] = result.result["observed_value"] = len(rows)
        results[id(p)] = _observed(result, p, ge_params)
        succeeded[id(p)] = bool(result.success) and not _exception_message(result.exception_info)
    return succeeded


def run_suites(db_path: Path, suite_names: Iterable[str], parameters: dict | None = None, *,
               immutable: bool | None = None, only: Iterable[str] | None = None,
               count_first: bool = True) -> list[SuiteOutcome]:
    """Run several suites against one SQLite file in one Great Expectations context.

    `parameters` are the run-time ones (see parameters_from_report); `only` limits the run to
    the expectations with these names (the others are left out of the outcome); `immutable`
    True for a file nothing writes to while it is read (a snapshot, a committed fixture),
    None to decide as hive_etl.sqlite_files.open_readonly does (read_immutable). The file is
    never written to, and no -wal/-shm file is left behind. `count_first` runs each query once
    where it can (see below; same outcomes, half the queries); False keeps the library's
    own expectation in the results, as Data Docs should show them.
    """
    db_path = Path(db_path)
    if immutable is None:
        immutable = read_immutable(db_path)
    names = list(suite_names)
    suites = {name: load_suite(name) for name in names}
    params = dict(parameters or {})
    builtins = builtin_parameters()
    only_set = set(only) if only is not None else None
    inventory = _inventory(db_path, immutable)
    plans = {name: _plan(name, suites[name], inventory, params, builtins, only_set) for name in names}

    gx = import_gx()
    _prepare_connections(max((suites[n].get("meta") or {}).get("page_cache_kib", 0) for n in names))
    context = _context(gx)
    datasource = context.data_sources.add_sqlite(name="hive", connection_string=sqlite_url(db_path, immutable),
                                                 create_temp_table=False)
    ge_params = {**{k: v for k, v in builtins.items() if not isinstance(v, SqlText)}, **params}
    outcomes: list[SuiteOutcome] = []
    batches: dict[str, Any] = {}
    from great_expectations.core.run_identifier import RunIdentifier

    run_id = RunIdentifier(run_name="hive-etl check")
    try:
        for name in names:
            started = time.perf_counter()
            planned = plans[name]
            results: dict[int, tuple[bool | None, str]] = {}
            raw_results = []
            counts: dict[int, int | None] = {}     # unexpected rows counted, by expectation
            groups: dict[tuple[str, str], list[_Planned]] = {}
            runnable = [p for p in planned if not (p.skip or p.fail)]
            # Column-map expectations run with SUMMARY (20 sample values; COMPLETE would list
            # every unexpected value), unexpected-rows ones with COMPLETE (rows capped at 200):
            # one validation per table when it has no column-map expectation, else two.
            mapped = {p.table for p in runnable if p.exp["type"].startswith(_COLUMN_MAP_PREFIXES)}
            for p in planned:
                if p.skip:
                    results[id(p)] = (None, "skipped: " + p.skip)
                elif p.fail:
                    results[id(p)] = (False, p.fail)
                else:
                    if p.table not in mapped:
                        kind = "one"
                    else:
                        kind = "rows" if p.exp["type"] == UNEXPECTED_ROWS else "columns"
                    groups.setdefault((p.table, kind), []).append(p)
            for (table, kind), members in groups.items():
                if table not in batches:
                    asset = datasource.add_table_asset(name=f"t{len(batches)}_{table}", table_name=table)
                    batches[table] = asset.add_batch_definition_whole_table(name="whole table").get_batch()
                single = (suites[name].get("meta") or {}).get("table") == table
                suite_name = f"{name if single else f'{name}.{table}'}{'.sql' if kind == 'rows' else ''}"
                validate = partial(_validate, gx, batches[table], suite_name, ge_params, run_id, raw_results, results,
                                   counts, meta={"hive_etl_suite": name, "table": table})
                # Each query once where it can be (the library's own unexpected-rows expectation
                # runs its query twice, for the rows and for their count): unexpected-rows
                # queries for their rows (the library fetches at most MAX_RESULT_RECORDS, so
                # fewer is the count too, and a clean table costs the one scan a count would); those
                # with that many rows are counted, then fetched again for their samples.
                # Column-map expectations are counted first, without sample values (fetching
                # them is one more full scan each, even when there are none); the few that
                # fail run again for their samples.
                detailed = "SUMMARY" if kind == "columns" else "COMPLETE"
                if count_first and kind != "columns":
                    validate(members, detailed, half="rows_first")
                    capped = [p for p in members if p.exp["type"] == UNEXPECTED_ROWS and id(p) not in results]
                    if capped:
                        validate(capped, detailed, half="count")
                        validate([p for p in capped if counts.get(id(p))], detailed, half="rows")
                elif count_first:
                    counted = validate(members, _counts_only_format(), half="count")
                    found = [p for p in members if counted.get(id(p)) is not True]
                    if found:
                        validate(found, detailed, half="rows")
                else:
                    validate(members, detailed, half=None)
                for p in members:
                    results.setdefault(id(p), (False, "error: no result from Great Expectations"))
            outcome = SuiteOutcome(name, [_outcome(p, *results[id(p)]) for p in planned],
                                   time.perf_counter() - started, raw_results)
            outcomes.append(outcome)
    finally:
        try:
            datasource.get_engine().dispose()
        except Exception:  # noqa: BLE001 - closing is best effort; the file was opened read-only
            pass
    return outcomes


def run_suite(db_path: Path, suite_name: str, parameters: dict | None = None, *,
              immutable: bool | None = None, only: Iterable[str] | None = None) -> SuiteOutcome:
    """Run one suite (`target`, `source.<table>`) against a SQLite file."""
    return run_suites(db_path, [suite_name], parameters, immutable=immutable, only=only)[0]


def run_source_suites(db_path: Path, *, immutable: bool | None = None) -> list[SuiteOutcome]:
    """Every `source.*` suite against a TypeScript-era database (its snapshot in the pipeline)."""
    return run_suites(db_path, source_suites(), None, immutable=immutable)


# --------------------------------------------------------------------------- data docs

def build_data_docs(outcomes: Iterable[SuiteOutcome], folder: Path) -> Path:
    """Great Expectations' Data Docs (static HTML) of these outcomes in `folder`; returns index.html.

    The validation results are put into a fresh ephemeral context's store and rendered
    by a filesystem site. The pages load Bootstrap and jQuery from public CDNs, so without a
    network they show unstyled (the content is all there).
    """
    gx = import_gx()
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    folder = Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    context = _context(gx)
    keys = []
    for outcome in outcomes:
        for i, result in enumerate(outcome.validation_results):
            suite_name = result.suite_name
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
                run_id=result.meta["run_id"], batch_identifier=f"{outcome.suite}-{i}")
            context.validation_results_store.set(key, result)
            keys.append(key)
    context.add_data_docs_site(site_name="hive_etl", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    context.build_data_docs(site_names=["hive_etl"], resource_identifiers=keys or None)
    return folder / "index.html"
