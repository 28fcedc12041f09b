"""The quarantine and archive files: every row written comes back as it was, in row groups
bounded by rows and by bytes, and writing them keeps pandas out of the migrating process."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import fresh_python
from hive_etl.load import sidecars as sidecar_module
from hive_etl.load.sidecars import ARCHIVE_SCHEMA, QUARANTINE_SCHEMA, Sidecars, archive_line, pk_json


def test_rows_come_back_as_written_with_the_declared_schema(tmp_path):
    files = Sidecars(tmp_path)
    files.quarantine_row("messages", 7, {"id": "m-7"}, "orphan: conversation_id c-404 not in conversations",
                         ["id", "content", "tokens"], ("m-7", "naïve \"quoted\" text\nwith 🐝", 12))
    files.quarantine_row("settings", None, {"rowid": None}, "NOT NULL failed: value", ["key"], (b"\x00\xff",))
    files.archive_value("conversations", {"id": "c-1"}, "legacy_flag", 3.0, "column has no place in v13")
    files.archive_value("conversations", {"id": "c-2"}, "legacy_flag", None, "column has no place in v13")
    produced = files.close()

    quarantine = pq.read_table(produced["quarantine"][0])
    assert [p.name for p in produced["quarantine"]] == ["messages.parquet", "settings.parquet"]
    assert quarantine.schema == QUARANTINE_SCHEMA
    row = quarantine.to_pylist()[0]
    assert row["source_rowid"] == 7 and json.loads(row["source_pk"]) == {"id": "m-7"}
    assert json.loads(row["row_json"]) == {"id": "m-7", "content": "naïve \"quoted\" text\nwith 🐝", "tokens": 12}
    settings = pq.read_table(produced["quarantine"][1]).to_pylist()[0]
    assert settings["source_rowid"] is None and json.loads(settings["row_json"]) == {"key": {"$blob": "00ff"}}
    archive = pq.read_table(produced["archive"][0])
    assert archive.schema == ARCHIVE_SCHEMA
    assert [(r["value"], r["value_type"]) for r in archive.to_pylist()] == [("3.0", "real"), (None, "null")]


def test_row_groups_are_bounded_by_bytes_and_a_row_larger_than_a_group_still_fits(tmp_path, monkeypatch):
    monkeypatch.setattr(sidecar_module, "BATCH_BYTES", 50_000)
    files = Sidecars(tmp_path)
    huge = "x" * 200_000
    for i in range(300):
        files.quarantine_row("messages", i, {"id": i}, "orphan", ["id", "content"], (i, huge if i == 150 else "y" * 1_000))
    path = files.close()["quarantine"][0]

    handle = pq.ParquetFile(path)
    assert handle.metadata.num_rows == 300
    assert handle.metadata.num_row_groups > 5       # ~1 KB rows, 50 KB groups
    assert max(handle.metadata.row_group(g).num_rows for g in range(handle.metadata.num_row_groups)) <= 60
    rows = handle.read().to_pylist()
    assert [r["source_rowid"] for r in rows] == list(range(300))
    assert json.loads(rows[150]["row_json"])["content"] == huge


def test_writing_sidecars_does_not_import_pandas(tmp_path):
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from hive_etl.load.sidecars import Sidecars\n"
        f"files = Sidecars(Path({str(tmp_path)!r}))\n"
        "files.quarantine_row('messages', 1, {'id': 1}, 'orphan', ['id'], (1,))\n"
        "files.archive_value('users', {'id': 1}, 'x', 1.5, 'dropped')\n"
        "files.close()\n"
        "print('pandas' in sys.modules)\n"
    )
    assert fresh_python(script).strip() == "False"


_VALUES = st.one_of(st.none(), st.text(), st.integers(), st.integers(min_value=2**63, max_value=2**70), st.floats(),
                    st.booleans(), st.binary(max_size=8))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=5), _VALUES, min_size=1, max_size=3), st.text(), _VALUES, st.text())
def test_archive_lines_are_the_json_of_their_record(pk, column, value, reason):
    """Archive records are written as text directly: the same JSON the encoder gives for the
    record (sorted key, surrogates, NaN, blobs and bools included), so Arrow reads the same."""
    encode = sidecar_module._to_json
    expected_pk = sidecar_module._to_sorted_json({k: sidecar_module._jsonable(v) for k, v in pk.items()})
    assert pk_json(pk) == expected_pk
    assert archive_line("t", pk, column, value, reason) == encode(
        {"source_table": "t", "source_pk": expected_pk, "column": column, "value": sidecar_module.render(value),
         "value_type": sidecar_module.sqlite_type(value), "reason": reason})


def test_archived_values_keep_their_sqlite_type():
    assert [sidecar_module.sqlite_type(v) for v in (None, True, 3, 2.5, "x", b"\x00")] == \
        ["null", "integer", "integer", "real", "text", "blob"]
