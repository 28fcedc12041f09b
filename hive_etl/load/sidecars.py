"""Quarantine and archive files: where every value that does not reach the target goes.

- quarantine/<table>.parquet: one row per source row that could not be loaded, with the
  reason, its primary key and the whole row as typed JSON.
- archive/<table>.parquet: one row per source value that has no place in the target
  (dropped or unknown columns and tables, values replaced by NULL, merged duplicates,
  credits), keyed by source table and primary key, with its SQLite type.

Rows are buffered as JSON lines and written in row groups of at most BATCH_ROWS rows or
BATCH_BYTES bytes, so memory stays flat however many rows there are and however large they
are, and a reader (the report's samples) can take the first rows without decoding a large
group. Arrow's JSON reader turns each batch into the file's schema: converting Python objects
with pyarrow would import pandas (about 50 MB) into a process that has no other use for it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from ..json_text import json_string, scalar_json

# Arrow's default allocator (mimalloc) keeps whole segments per thread after a batch is freed;
# the system allocator gives them back. This process only ever holds one small batch at a time.
pa.set_memory_pool(pa.system_memory_pool())

QUARANTINE_SCHEMA = pa.schema(
    [("source_table", pa.string()), ("source_rowid", pa.int64()), ("source_pk", pa.string()),
     ("reason", pa.string()), ("row_json", pa.string())]
)
ARCHIVE_SCHEMA = pa.schema(
    [("source_table", pa.string()), ("source_pk", pa.string()), ("column", pa.string()),
     ("value", pa.string()), ("value_type", pa.string()), ("reason", pa.string())]
)
BATCH_ROWS = 10_000
BATCH_BYTES = 2 << 20
# One encoder each, made once: json.dumps with options builds a new encoder on every call,
# and a run can write hundreds of thousands of records.
_to_json = json.JSONEncoder(ensure_ascii=False).encode
_to_sorted_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


_SQLITE_TYPES = {int: "integer", float: "real", str: "text", bytes: "blob", bool: "integer", type(None): "null"}


def sqlite_type(value) -> str:
    return _SQLITE_TYPES.get(type(value), "text")


def render(value) -> str | None:
    """A value as text that keeps its meaning: repr for floats, hex for blobs."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _jsonable(value):
    return {"$blob": value.hex()} if isinstance(value, bytes) else value


def row_json(columns: list[str], row) -> str:
    return _to_json({c: _jsonable(v) for c, v in zip(columns, row)})


def pk_json(pk: dict) -> str:
    if len(pk) == 1:                 # nearly every key: written directly, same text
        (name, value), = pk.items()
        text = scalar_json(value)
        if text is not None:
            return "{" + json_string(name) + ": " + text + "}"
    return _to_sorted_json({k: _jsonable(v) for k, v in pk.items()})


def archive_line(table: str, pk: dict, column: str, value, reason: str) -> str:
    """One archive record as a line of JSON: what _to_json gives for it, written directly (the
    archive can take a value of each of hundreds of thousands of rows)."""
    shown = render(value)
    return "".join((
        '{"source_table": ', json_string(table), ', "source_pk": ', json_string(pk_json(pk)),
        ', "column": ', json_string(column), ', "value": ', "null" if shown is None else json_string(shown),
        ', "value_type": ', json_string(sqlite_type(value)), ', "reason": ', json_string(reason), "}"))


class _ParquetFiles:
    def __init__(self, folder: Path, schema: pa.Schema):
        self.folder, self.schema = folder, schema
        self.buffers: dict[str, list[str]] = {}
        self.buffered_bytes: dict[str, int] = {}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.counts: dict[str, int] = {}

    def add(self, table: str, record: dict) -> None:
        self.add_line(table, _to_json(record))

    def add_line(self, table: str, line: str) -> None:
        """A record already written as one line of JSON with the schema's fields."""
        buffer = self.buffers.setdefault(table, [])
        buffer.append(line)
        size = self.buffered_bytes[table] = self.buffered_bytes.get(table, 0) + len(line)
        self.counts[table] = self.counts.get(table, 0) + 1
        if len(buffer) >= BATCH_ROWS or size >= BATCH_BYTES:
            self._flush(table)

    def _flush(self, table: str) -> None:
        lines = self.buffers.get(table)
        if not lines:
            return
        data = "\n".join(lines).encode("utf-8")
        rows = pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1),  # one block: any row size
            parse_options=pa_json.ParseOptions(explicit_schema=self.schema, unexpected_field_behavior="error"),
        )
        self._writer(table).write_table(rows)  # columns in the schema's order, whatever the keys' order
        self.buffers[table], self.buffered_bytes[table] = [], 0

    def _writer(self, table: str) -> pq.ParquetWriter:
        if table not in self.writers:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.writers[table] = pq.ParquetWriter(self.folder / f"{table}.parquet", self.schema)
        return self.writers[table]

    def adopt(self, path: Path) -> None:
        """Append the rows of another process's file of the same kind (`<table>.parquet`), in
        batches, then remove it."""
        table = path.name[: -len(".parquet")]
        self._flush(table)
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            self._writer(table).write_batch(batch)
            self.counts[table] = self.counts.get(table, 0) + batch.num_rows
        path.unlink()

    def close(self) -> list[Path]:
        for table in list(self.buffers):
            self._flush(table)
        for writer in self.writers.values():
            writer.close()
        return [self.folder / f"{table}.parquet" for table in sorted(self.writers)]


class Sidecars:
    """The quarantine and archive files of one run, under `folder`."""

    def __init__(self, folder: Path):
        self.quarantine = _ParquetFiles(folder / "quarantine", QUARANTINE_SCHEMA)
        self.archive = _ParquetFiles(folder / "archive", ARCHIVE_SCHEMA)

    def quarantine_row(self, table: str, rowid: int | None, pk: dict, reason: str, columns: list[str], row) -> None:
        self.quarantine.add(table, {"source_table": table, "source_rowid": rowid, "source_pk": pk_json(pk),
                                    "reason": reason, "row_json": row_json(columns, row)})

    def archive_value(self, table: str, pk: dict, column: str, value, reason: str) -> None:
        self.archive.add_line(table, archive_line(table, pk, column, value, reason))

    def adopt(self, produced: dict[str, list[Path]]) -> None:
        """Take in the files another process's Sidecars produced (`close()`'s answer)."""
        for kind, paths in produced.items():
            for path in paths:
                {"quarantine": self.quarantine, "archive": self.archive}[kind].adopt(path)

    def close(self) -> dict[str, list[Path]]:
        return {"quarantine": self.quarantine.close(), "archive": self.archive.close()}
