"""Staging the legacy JSON files (hive_etl/extract/json_staging.py): a key repeated in its own
file keeps its first record and counts the others as duplicates; staged rows keep their record
number and are read back in key order (what lets the loader write them where the target's
key index ends). The usage file's child (hive_etl/extract/usage_file.py, its `main` run here
in-process) stages the same rows and reports the same counts as staging in-process, whether
it sorts them itself or, finding the pipeline already waiting, leaves them in arrival order
for the pipeline to move (`order_arrivals`)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from datetime import datetime, timezone
from pathlib import Path

from conftest import fresh_python
from hive_etl.context import RunContext, SourceCounts
from hive_etl.extract import usage_file
from hive_etl.extract.json_staging import BIG_FILE, order_arrivals, stage_files
from hive_etl.load.sidecars import Sidecars


def _record(rid: str | None, cost: float, minute: int) -> dict:
    record = {"userId": "u1", "conversationId": "c1", "action": "model_call", "model": "openai/gpt-4o",
              "cost": cost, "inputTokens": 10, "outputTokens": 20, "timestamp": f"2025-03-01T10:{minute:02d}:00.000Z"}
    return record if rid is None else {"id": rid, **record}


def _stage(tmp_path: Path, records: list, in_child: str | None) -> tuple[RunContext, list[tuple]]:
    usage = tmp_path / "usage-monitor.json"
    usage.write_text(json.dumps({"records": records}), encoding="utf-8")
    ctx = RunContext(source=tmp_path / "hive-ai.db", target=tmp_path / "out.db", home=tmp_path,
                     report_dir=tmp_path / "report", now=datetime.now(timezone.utc))
    ctx.json_path = tmp_path / "json.db"
    ctx.sidecars = Sidecars(tmp_path / "sidecars")

    class Bar:
        done = 0

        def update(self, done, note=None):
            self.done = done

    if in_child:
        request, result, awaited = tmp_path / "request.json", tmp_path / "result.json", tmp_path / "awaited"
        if in_child == "pipeline-waiting":
            awaited.touch()
        request.write_text(json.dumps({"path": str(usage), "json_db": str(ctx.json_path),
                                       "sidecars": str(tmp_path / "child-sidecars"),
                                       "progress": str(tmp_path / "progress"), "awaited": str(awaited),
                                       "offer": str(tmp_path / "offer.json"), "claim": str(tmp_path / "claim")}),
                           encoding="utf-8")
        usage_file.main([str(request), str(result)])
        reported = json.loads(result.read_text(encoding="utf-8"))
        ctx.sources = {name: SourceCounts(**counts) for name, counts in reported["sources"].items()}
        assert bool(reported["unsorted"]) == (in_child == "pipeline-waiting")
        if reported["unsorted"]:
            assert ctx.sources["usage-monitor.json"].duplicates == 0   # not known before the move
        order_arrivals(ctx, reported["unsorted"])
    else:
        stage_files(ctx, {BIG_FILE: usage}, Bar())
    ctx.sidecars.close()
    conn = sqlite3.connect(ctx.json_path)
    rows = conn.execute("SELECT id, cost, _json_path, _seq FROM usage_records").fetchall()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables == {"stage_models", "usage_records"}     # nothing left over in arrival order
    return ctx, rows


every_way = pytest.mark.parametrize("in_child", [None, "child-first", "pipeline-waiting"],
                                    ids=["in-process", "child-sorts", "pipeline-sorts"])


@every_way
def test_a_key_repeated_in_its_file_keeps_its_first_record(tmp_path, in_child):
    records = [_record("b", 0.5, 0), _record("a", 0.1, 1), _record("b", 0.9, 2), _record("b", 0.7, 3)]
    ctx, rows = _stage(tmp_path, records, in_child)
    assert {r[0]: r[1] for r in rows} == {"a": 0.1, "b": 0.5}
    counts = ctx.sources["usage-monitor.json"]
    assert (counts.records, counts.duplicates, counts.repeated_in_file) == (4, 2, 2)


@every_way
def test_staged_rows_are_read_in_key_order_with_their_record_number(tmp_path, in_child):
    ids = [f"id-{n:03d}" for n in (7, 3, 9, 1, 5)]
    records = [_record(rid, 0.25, n) for n, rid in enumerate(ids)] + [_record(None, 0.3, 59)]
    _, rows = _stage(tmp_path, records, in_child)
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)           # a plain scan goes in key order
    assert {r[0]: r[3] for r in rows if r[0] in ids} == {rid: n + 1 for n, rid in enumerate(ids)}
    generated = [r for r in rows if r[0] not in ids]
    assert len(generated) == 1 and generated[0][0].startswith("json-") and generated[0][3] == 6
    assert all(r[2] == f"$.records[{r[3] - 1}]" for r in rows)


def test_the_usage_file_child_collects_less_often_but_still_collects_cycles():
    """The child's heap (child_process.collect_less): its imports frozen, the youngest
    generation collected every 10,000 allocations; garbage cycles still go, without a
    collection being asked for."""
    code = (
        "import gc\n"
        "from hive_etl.child_process import collect_less\n"
        "collect_less()\n"
        "freed = []\n"
        "class Node:\n"
        "    def __del__(self): freed.append(1)\n"
        "for _ in range(50_000):\n"
        "    node = Node(); node.me = node\n"
        "del node\n"
        "print(gc.get_freeze_count() > 0, len(freed) > 40_000)\n")
    assert fresh_python(code).split() == ["True", "True"]
