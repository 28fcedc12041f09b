"""The extract stage for the legacy JSON files: read them into a staging database.

Every file of contract section 5 that is present (hive_etl/extract/legacy_json.py reads
them) is read to its end before its records load, so a file that turns out to be broken
halfway stops the run with exit 2 and nothing written. The small files are read here,
before anything is built; the usage file, which can hold millions of records, is read by
hive_etl/extract/usage_file.py in a child process while the tables load. Records that load become rows of
`json.db` in the work folder, one table per target table (usage_records, budget_limits,
cost_analytics, licenses) with the target's columns plus `_json_path` and `_seq`
(the record's number in its file); the loader later attaches it as `json` and moves it like
any source table. Every staged table is stored in its key's order (WITHOUT ROWID): the
loader then writes the records in key order, so the target's key index grows at its end instead
of at a random page per row (a million usage records: 2.8 s -> 0.7 s). Along the way:
- a record the reader quarantines goes to quarantine/<file>.parquet with its JSON path;
- keys no field names go to the archive;
- a usage record repeated in its own file is counted once (the rest are duplicates);
- `usage_stats.json` and `subscription_cache.json` load nothing themselves: their values
  are archived, every `credits_remaining` is recorded (never loaded, named in the report),
  and the subscription cache is kept for the users and licenses rules of section 3;
- cost-tracking's stage models are kept for the model-id stage, and its provider breakdown
  is rewritten to the database's shape ({provider: cost}).
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from typing import Callable

from ..context import RunContext, SourceCounts
from ..extract.legacy_json import TARGET_TABLE, JsonRow, find_json_sources, layout, read_json_source
from ..schema import target_spec
from ..sqlite_files import PAGE_SIZE, file_uri
from ..transform.table_plan import q

CREDITS_REASON = "credits are never stored locally in the Rust era"


def _file_name(kind: str) -> str:
    return layout(kind)["location"].rsplit("/", 1)[-1]


STAGING_KEYS = {"usage_records": "id", "budget_limits": "id", "licenses": "key", "cost_analytics": "conversation_id"}
ROW_NUMBER = "_seq"   # the staged record's number in its file: what the loader calls its row


def create_staging(conn: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    """The staging table for `table`: its target columns (no declared types, values kept as the
    reader made them) plus `_json_path` and `_seq`, as the B-tree of the records' key
    (STAGING_KEYS; the reader always fills it), so reading it goes in key order."""
    columns = [c["name"] for c in target_spec()["tables"][table]["columns"]]
    key = STAGING_KEYS[table]
    defs = [f"{q(c)}{' PRIMARY KEY NOT NULL' if c == key else ''}" for c in columns]
    defs += ["_json_path", f"{ROW_NUMBER} INTEGER NOT NULL"]
    conn.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{q(table)} ({', '.join(defs)}) WITHOUT ROWID")
    return columns


def _provider_costs(values: dict) -> str | None:
    """cost-tracking's {stage: model} and {stage: cost} as the database's {provider: cost}."""
    try:
        models, costs = json.loads(values.get("provider_breakdown") or "{}"), json.loads(values.get("cost_per_stage") or "{}")
    except ValueError:
        return None
    totals: dict[str, float] = defaultdict(float)
    for stage, model in models.items():
        if isinstance(model, str) and isinstance(costs.get(stage), (int, float)):
            totals[model.split("/", 1)[0] if "/" in model else "unknown"] += costs[stage]
    return json.dumps(dict(totals), sort_keys=True) if totals else None


BIG_FILE = "usage_monitor"   # the one file that can be large: staged apart, beside the table loads


def open_staging(path) -> sqlite3.Connection:
    """A connection to the staging database for bulk writes (no journal, no sync: it is thrown
    away unless the run completes), opened by URI so that it can attach a snapshot's URI."""
    conn = sqlite3.connect(file_uri(path), uri=True, isolation_level=None)
    for pragma in (f"page_size = {PAGE_SIZE}", "journal_mode = OFF", "synchronous = OFF"):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def stage_files(ctx: RunContext, sources: dict, bar, leave_unsorted: Callable[[], bool] | None = None) -> list[dict]:
    """Read `sources` ({kind: path}) to their end into `ctx.json_path`, in one transaction.

    With `leave_unsorted`, asked once each file is read: when it answers True, the file's
    rows stay in a table of `json.db` in the order they were read, and what `order_arrivals`
    needs to put them in place is returned (the usage file's child hands the sort to the
    pipeline when the pipeline is already waiting for it: hive_etl/extract/usage_file.py)."""
    conn = open_staging(ctx.json_path)
    conn.execute("CREATE TABLE IF NOT EXISTS stage_models (model TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.execute("BEGIN")
    unsorted = []
    try:
        for kind, path in sources.items():
            unsorted.extend(_stage_file(ctx, conn, kind, path, bar, leave_unsorted))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return unsorted


def order_arrivals(ctx: RunContext, unsorted: list[dict]) -> None:
    """Move the rows `stage_files` left in arrival order into their staging tables, in key
    order, and count the keys their file repeated as duplicates."""
    if not unsorted:
        return
    conn = open_staging(ctx.json_path)
    try:
        for left in unsorted:
            _count_repeated(ctx.sources[left["file"]], _move_arrivals(conn, "main", left["table"], left["added"]))
    finally:
        conn.close()


def _count_repeated(counts: SourceCounts, repeated: int) -> None:
    counts.duplicates += repeated
    counts.repeated_in_file += repeated


def extract_legacy_json(ctx: RunContext) -> None:
    """Stage every legacy JSON file but the usage file into `json.db` (hive_etl/extract/usage_file.py
    stages that one, beside the table loads)."""
    sources = {k: p for k, p in find_json_sources(ctx.home).items() if k != BIG_FILE}
    ctx.json_path = ctx.work_dir / "json.db"
    bar = ctx.bar("legacy JSON", sum(path.stat().st_size for path in sources.values()), "bytes")
    stage_files(ctx, sources, bar)
    bar.close()


def _stage_file(ctx: RunContext, conn: sqlite3.Connection, kind: str, path, bar,
                leave_unsorted: Callable[[], bool] | None) -> list[dict]:
    name, table = _file_name(kind), TARGET_TABLE[kind]
    counts = ctx.sources.setdefault(name, SourceCounts(path=str(path), table=table))
    columns = create_staging(conn, table) if table else []
    rows = _Arrivals(conn, table, len(columns), "temp" if leave_unsorted is None else "main") if table else None
    start = bar.done
    bar.update(start, name)
    for item in read_json_source(kind, path, lambda read: bar.update(start + read, name)):
        counts.records += 1
        if not isinstance(item, JsonRow):
            counts.quarantined += 1
            ctx.sidecars.quarantine_row(name, None, {"json_path": item.json_path}, item.reason, ["record"], [item.raw])
            continue
        values = item.values
        if values.get("_extra"):
            ctx.sidecars.archive_value(name, {"json_path": item.json_path}, "(keys with no place in the target)",
                                       values["_extra"], "JSON keys no field of pipelines/legacy_json.yaml names")
        if values.get("credits_remaining") is not None:
            ctx.credits.append(values["credits_remaining"])
            ctx.credit_sources.append({"file": name, "json_path": item.json_path, "value": values["credits_remaining"]})
        if table is None:
            counts.archived += 1
            for column, value in values.items():
                if not column.startswith("_") and value is not None:
                    reason = CREDITS_REASON if column == "credits_remaining" else f"{name} loads nothing: archived"
                    ctx.sidecars.archive_value(name, {"json_path": item.json_path}, column, value, reason)
            if kind == "subscription_cache":
                ctx.subscription_cache = values
            continue
        if kind == "cost_tracking":
            conn.executemany("INSERT OR IGNORE INTO stage_models VALUES (?)", [(m,) for m in values.get("_models") or () if m])
            ctx.sidecars.archive_value(name, {"json_path": item.json_path}, "provider_breakdown (stage models)",
                                       values.get("provider_breakdown"),
                                       "the database keeps {provider: cost}; the stage models are kept here")
            values = {**values, "provider_breakdown": _provider_costs(values)}
        rows.add([*map(values.get, columns), item.json_path, counts.records])
    bar.update(start + path.stat().st_size)
    if rows is None:
        return []
    added = rows.close()
    if leave_unsorted is not None and leave_unsorted():
        return [{"file": name, "table": table, "added": added}]
    _count_repeated(counts, _move_arrivals(conn, rows.schema, table, added))
    return []


def _arrivals(schema: str, table: str) -> str:
    return f"{schema}.{q('arrivals_' + table)}"


class _Arrivals:
    """A file's rows on their way into their staging table: appended in batches to a plain
    table, `arrivals_<table>` (no key to maintain per row; a temp table unless the rows may
    have to outlive the connection), then moved into the staging table in one statement, in
    key order (`_move_arrivals`)."""

    BATCH = 5000

    def __init__(self, conn: sqlite3.Connection, table: str, width: int, schema: str = "temp"):
        self.conn, self.schema, arrivals = conn, schema, _arrivals(schema, table)
        conn.execute(f"DROP TABLE IF EXISTS {arrivals}")
        conn.execute(f"CREATE {'TEMP ' if schema == 'temp' else ''}TABLE {arrivals} AS "
                     f"SELECT * FROM main.{q(table)} WHERE 0")
        self.insert = f"INSERT INTO {arrivals} VALUES ({', '.join('?' * (width + 2))})"
        self.batch: list[list] = []
        self.added = 0

    def add(self, row: list) -> None:
        self.batch.append(row)
        if len(self.batch) >= self.BATCH:
            self._flush()

    def _flush(self) -> None:
        self.conn.executemany(self.insert, self.batch)
        self.added += len(self.batch)
        self.batch.clear()

    def close(self) -> int:
        """Write the last batch; returns how many rows arrived."""
        self._flush()
        return self.added


def _move_arrivals(conn: sqlite3.Connection, schema: str, table: str, added: int) -> int:
    """Move the rows that arrived for `table` into its staging table in key order, where a key
    repeated in the file keeps its first record, and drop their table; returns how many
    repeated a key already taken."""
    arrivals, before = _arrivals(schema, table), conn.total_changes
    conn.execute(f"INSERT OR IGNORE INTO main.{q(table)} SELECT * FROM {arrivals} "
                 f"ORDER BY {q(STAGING_KEYS[table])}, {ROW_NUMBER}")
    moved = conn.total_changes - before
    conn.execute(f"DROP TABLE {arrivals}")
    return added - moved
