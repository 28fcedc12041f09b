"""The legacy JSON readers (hive_etl/extract/legacy_json.py, pipelines/legacy_json.yaml): every
file and layout, key spellings, timestamps, deterministic ids, bad records quarantined with their
JSON path, bad files refused in one line naming file and path, and property tests that no
hostile input ends in anything but rows, quarantines or BadInput."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import ijson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import SAMPLES, load_generator
from hive_etl.errors import BadInput
from hive_etl.extract import legacy_json as lj
from hive_etl.extract.legacy_json import (
    TARGET_TABLE, USAGE_CONTENT, JsonQuarantine, JsonRow, find_json_sources, read_json_source, usage_content_key, usage_record_id,
)
from hive_etl.resources import pipeline_file
from hive_etl.transform import values as tv

KINDS = list(TARGET_TABLE)
USAGE_COLUMNS = ["id", "user_id", "conversation_id", "action_type", "cost", "tokens_input", "tokens_output",
                 "model_used", "timestamp"]


def write(tmp_path: Path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


def read(kind: str, path: Path):
    items = list(read_json_source(kind, path))
    assert all(isinstance(i, (JsonRow, JsonQuarantine)) for i in items)
    return [i for i in items if isinstance(i, JsonRow)], [i for i in items if isinstance(i, JsonQuarantine)]


def bad_input(kind: str, path: Path) -> str:
    with pytest.raises(BadInput) as info:
        list(read_json_source(kind, path))
    message = info.value.message
    assert len(message.splitlines()) == 1, message
    assert str(path) in message
    return message


def record(**extra):
    base = {"id": "u-1", "timestamp": "2024-03-01T10:00:00.000Z", "conversationId": "c-1", "userId": "user-1",
            "model": "openai/gpt-4o", "action": "model_call", "inputTokens": 120, "outputTokens": 80, "cost": 0.0042}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not ...}


# -- the declarative file -----------------------------------------------------------------------------
def test_target_tables_and_locations_come_from_the_yaml():
    files = pipeline_file("legacy_json.yaml")["files"]
    assert {k: v["table"] for k, v in files.items()} == TARGET_TABLE
    assert {k: v["location"] for k, v in files.items()} == {
        "usage_monitor": ".hive-ai/usage-monitor.json", "budget": ".hive-ai/budget.json",
        "cost_tracking": ".hive-ai/cost-tracking.json", "license": ".hive/license.json",
        "usage_stats": ".hive/usage_stats.json", "subscription_cache": ".hive/subscription_cache.json"}
    usage = files["usage_monitor"]["fields"]
    assert {"inputTokens", "tokensInput", "promptTokens", "input_tokens"} <= set(usage["tokens_input"]["keys"])
    assert {"outputTokens", "tokensOutput", "completionTokens"} <= set(usage["tokens_output"]["keys"])
    assert usage["action_type"]["default"] == "model_call"
    assert usage["action_type"]["allowed"] == ["conversation", "model_call", "sync"]
    assert usage["cost"]["min"] == 0 and usage["tokens_input"]["kind"] == "integer"


def test_find_json_sources_names_the_files_present(tmp_path):
    assert find_json_sources(tmp_path) == {}
    (tmp_path / ".hive-ai").mkdir()
    (tmp_path / ".hive").mkdir()
    write(tmp_path, ".hive-ai/budget.json", {})
    write(tmp_path, ".hive/license.json", {})
    (tmp_path / ".hive-ai" / "usage-monitor.json").mkdir()   # not a file: not a source
    assert find_json_sources(tmp_path) == {"budget": tmp_path / ".hive-ai/budget.json",
                                           "license": tmp_path / ".hive/license.json"}


def test_unknown_kind_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError):
        read_json_source("usage-monitor", tmp_path / "x.json")


# -- usage-monitor.json: layouts, keys, values ------------------------------------------------------------
RECORDS = [record(), record(id=..., cost=0.5, inputTokens=1, outputTokens=2, timestamp=1709287200123),
           record(id="u-3", action="conversation", timestamp="2024-03-01 10:00:00")]


@pytest.mark.parametrize("layout", ["wrapped", "array", "ndjson", "wrapped-pretty", "ndjson-crlf-bom"])
def test_usage_layouts_give_the_same_rows(tmp_path, layout):
    text = {"wrapped": json.dumps({"version": 2, "records": RECORDS, "lastUpdated": "x"}),
            "wrapped-pretty": json.dumps({"meta": {"records": 1}, "records": RECORDS}, indent=2),
            "array": json.dumps(RECORDS, indent=1),
            "ndjson": "\n".join(json.dumps(r) for r in RECORDS) + "\n\n",
            "ndjson-crlf-bom": "\ufeff" + "\r\n".join(json.dumps(r) for r in RECORDS)}[layout]
    rows, quarantined = read("usage_monitor", write(tmp_path, "usage-monitor.json", text))
    assert quarantined == []
    assert [r.values["id"] for r in rows][::2] == ["u-1", "u-3"]
    paths = [r.json_path for r in rows]
    expected = {"wrapped": ["$.records[0]", "$.records[1]", "$.records[2]"], "array": ["$[0]", "$[1]", "$[2]"],
                "ndjson": ["line 1", "line 2", "line 3"]}
    assert paths == expected[layout.split("-")[0]]
    first = rows[0].values
    assert first == {"id": "u-1", "user_id": "user-1", "conversation_id": "c-1", "action_type": "model_call",
                     "cost": 0.0042, "tokens_input": 120, "tokens_output": 80, "model_used": "openai/gpt-4o",
                     "timestamp": "2024-03-01T10:00:00.000Z", "_extra": None}
    assert rows[1].values["timestamp"] == "2024-03-01T10:00:00.123Z"
    assert rows[2].values["timestamp"] == "2024-03-01 10:00:00"        # SQLite reads it: kept byte for byte
    assert all(r.file == str(tmp_path / "usage-monitor.json") for r in rows)


@pytest.mark.parametrize("keys", [
    dict(timestamp="timestamp", conversation="conversationId", user="userId", model="model", action="action",
         tin="inputTokens", tout="outputTokens"),
    dict(timestamp="created_at", conversation="conversation_id", user="user_id", model="model_used",
         action="action_type", tin="input_tokens", tout="output_tokens"),
    dict(timestamp="time", conversation="conversationId", user="userId", model="modelUsed", action="actionType",
         tin="tokensInput", tout="tokensOutput"),
    dict(timestamp="createdAt", conversation="conversationId", user="userId", model="model", action="action",
         tin="promptTokens", tout="completionTokens"),
])
def test_usage_key_spellings_and_aliases(tmp_path, keys):
    rec = {keys["timestamp"]: "2024-03-01T10:00:00Z", keys["conversation"]: "c", keys["user"]: "u",
           keys["model"]: "m/x", keys["action"]: "sync", keys["tin"]: 5, keys["tout"]: 6, "cost": 0.25}
    (row,), _ = read("usage_monitor", write(tmp_path, "u.json", [rec]))
    assert {k: row.values[k] for k in USAGE_COLUMNS[1:]} == {
        "user_id": "u", "conversation_id": "c", "action_type": "sync", "cost": 0.25, "tokens_input": 5,
        "tokens_output": 6, "model_used": "m/x", "timestamp": "2024-03-01T10:00:00Z"}


def test_usage_defaults_text_numbers_and_extra_keys(tmp_path):
    recs = [{"timestamp": "1709287200", "inputTokens": "12", "outputTokens": 3.0, "cost": "0.0042",
             "action": " Conversation ", "sessionId": "s-9", "meta": {"a": [1]}},
            {"timestamp": 1709287200, "inputTokens": 0, "outputTokens": 0, "cost": 0, "userId": 42, "model": "",
             "conversationId": None}]
    rows, quarantined = read("usage_monitor", write(tmp_path, "u.json", {"records": recs}))
    assert quarantined == []
    a, b = (r.values for r in rows)
    assert (a["timestamp"], a["tokens_input"], a["tokens_output"], a["cost"]) == ("2024-03-01T10:00:00.000Z", 12, 3, 0.0042)
    assert a["action_type"] == "conversation" and json.loads(a["_extra"]) == {"sessionId": "s-9", "meta": {"a": [1]}}
    assert b["action_type"] == "model_call"                                  # the default
    assert (b["user_id"], b["model_used"], b["conversation_id"]) == ("42", None, None)
    assert type(a["tokens_output"]) is int and type(b["cost"]) is int


@pytest.mark.parametrize("value, expected", [
    (1709287200, "2024-03-01T10:00:00.000Z"),                 # epoch seconds
    (1709287200.5, "2024-03-01T10:00:00.500Z"),
    (1709287200123, "2024-03-01T10:00:00.123Z"),              # epoch milliseconds
    ("1709287200123", "2024-03-01T10:00:00.123Z"),            # numeric text
    ("2024-03-01T10:00:00.123Z", "2024-03-01T10:00:00.123Z"),  # ISO: SQLite reads it, kept
    ("2024-03-01T12:00:00+02:00", "2024-03-01T12:00:00+02:00"),
    ("2024-03-01 10:00:00", "2024-03-01 10:00:00"),
    ("Fri Mar 01 2024 11:00:00 GMT+0100 (Central European Standard Time)", "2024-03-01T10:00:00.000Z"),
    ("2024/03/01 10:00:00", "2024-03-01T10:00:00.000Z"),
])
def test_usage_timestamps(tmp_path, value, expected):
    (row,), _ = read("usage_monitor", write(tmp_path, "u.json", [record(timestamp=value)]))
    assert row.values["timestamp"] == expected


EXAMPLES_TS = int(os.environ.get("HIVE_ETL_HYPOTHESIS_EXAMPLES", "150"))


def sql_timestamp(value):
    conn = sqlite3.connect(":memory:")
    tv.register(conn)
    return conn.execute(f"SELECT {tv.timestamp_sql('x')} FROM (SELECT ? AS x)", (value,)).fetchone()[0]


def reader_timestamp(value):
    field = lj.layout("usage_monitor")["_fields"].by_key["timestamp"]
    try:
        return lj._timestamp(field, value)
    except lj._Invalid:
        return None


FIXTURE_TIMESTAMPS = ["2024-03-01 10:00:00", "2024-03-01T10:00:00.000Z", "2024-03-01T12:00:00+02:00", 1709287200,
                      1709287200123, "1709287200", "yesterday", "N/A", "not a date", "2024-13-01", "2024-02-31",
                      "10:00", " 2024-03-01", "2024-03-01 ", "12.5", "", "9999-12-31 23:59:59.9999", 0, -1, 1e11,
                      "Fri Mar 01 2024 11:00:00 GMT+0100 (CET)", "Fri, 01 Mar 2024 10:00:00 +0000"]


@pytest.mark.parametrize("value", FIXTURE_TIMESTAMPS)
def test_timestamps_agree_with_the_sql_rule(value):
    assert reader_timestamp(value) == sql_timestamp(value)


@settings(max_examples=EXAMPLES_TS, deadline=None)
@given(st.one_of(st.text(max_size=40), st.integers(-(2**62), 2**62), st.floats(allow_nan=False, allow_infinity=False),
                 st.from_regex(r"\A\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,4})?)?)?(Z|[+-]\d{2}:\d{2})?\Z")))
def test_timestamps_agree_with_the_sql_rule_for_any_value(value):
    assume(not (isinstance(value, str) and value.strip().lower() == "now"))
    assert reader_timestamp(value) == sql_timestamp(value)


# The table plan reads JSON-staged columns of these kinds as they are (table_plan.SAME_RULE_KINDS):
# sound only because the SQL rule gives back, type and all, whatever the reader staged.
SQL_RULES = {"timestamp": ("usage_monitor", "timestamp", tv.timestamp_sql), "number": ("usage_monitor", "cost", tv.real_sql),
             "integer": ("usage_monitor", "tokens_input", tv.integer_sql), "boolean": ("budget", "is_active", tv.boolean_sql)}


def test_every_kind_read_as_it_is_has_its_sql_rule_here():
    from hive_etl.transform.table_plan import SAME_RULE_KINDS

    assert set(SAME_RULE_KINDS) == set(SQL_RULES)


@settings(max_examples=EXAMPLES_TS, deadline=None)
@given(st.sampled_from(sorted(SQL_RULES)),
       st.one_of(st.sampled_from(FIXTURE_TIMESTAMPS + [True, False, "true", " FALSE ", "1", "0", "1e3", "-0.0", 2**70]),
                 st.text(max_size=30), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
                 st.from_regex(r"\A\s*-?\d{1,20}(\.\d{0,6})?([eE][+-]?\d{1,3})?\s*\Z")))
def test_values_the_reader_stages_are_left_alone_by_the_sql_rule(kind, value):
    file, column, rule = SQL_RULES[kind]
    field = next(f for f in lj.layout(file)["_fields"].fields if f.name == column)
    assert field.kind == kind
    try:
        staged = field.normalise(field, value)
    except lj._Invalid:
        return
    conn = sqlite3.connect(":memory:")
    tv.register(conn)
    again, typeof, was = conn.execute(f"SELECT {rule('x')}, typeof({rule('x')}), typeof(x) FROM (SELECT ? AS x)",
                                      (staged,)).fetchone()
    assert (again, typeof) == (staged, was)


@settings(max_examples=EXAMPLES_TS * 4, deadline=None)
@given(st.one_of(st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\Z"),
                 st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z")))
def test_the_export_format_shortcut_agrees_with_sqlite(text):
    """is_export_format spares the reader a SQLite call; where it answers, SQLite says the same."""
    conn = sqlite3.connect(":memory:")
    reads, instant = conn.execute("SELECT datetime(?) IS NOT NULL, strftime('%Y-%m-%dT%H:%M:%fZ', ?)", (text, text)).fetchone()
    if lj.is_export_format(text):
        assert reads == 1 and instant == text
    assert lj.sqlite_reads_as_date(text) == (reads == 1)
    assert lj.timestamp_instant(text) == (instant if instant is not None else text)


def test_now_is_not_a_point_in_time(tmp_path):
    _, (q,) = read("usage_monitor", write(tmp_path, "u.json", [record(timestamp="now")]))
    assert '"timestamp"' in q.reason and "time of reading" in q.reason


# -- deterministic ids and equality with database rows ----------------------------------------------------
def test_ids_are_deterministic_and_follow_content(tmp_path):
    recs = [record(id=...), record(id=..., cost=0.0043), record(id=..., timestamp=1709287200000),
            record(id=..., inputTokens=121)]
    path = write(tmp_path, "u.json", recs)
    first = [r.values["id"] for r in read("usage_monitor", path)[0]]
    again = [r.values["id"] for r in read("usage_monitor", path)[0]]
    assert first == again
    assert all(re.fullmatch(r"json-[0-9a-f]{32}", i) for i in first)
    assert first[0] == first[2]          # the same instant, spelled as ISO or epoch ms: the same record
    assert len({first[0], first[1], first[3]}) == 3
    values = read("usage_monitor", path)[0][0].values
    assert first[0] == "json-" + __import__("hashlib").sha256(usage_content_key(values).encode()).hexdigest()[:32]


def test_content_key_matches_a_database_row_however_spelled():
    db_row = dict(id="db-1", user_id="u", conversation_id="c", action_type="model_call", cost=0.0042,
                  tokens_input=120, tokens_output=80, model_used="openai/gpt-4o", timestamp="2024-03-01 10:00:00")
    json_row = dict(db_row, id="json-x", timestamp="2024-03-01T10:00:00.000Z", cost=0.0042, tokens_input=120)
    assert usage_content_key(db_row) == usage_content_key(json_row)
    assert usage_record_id(db_row) == usage_record_id(json_row)
    assert usage_content_key(dict(db_row, timestamp="2024-03-01T12:00:00+02:00")) == usage_content_key(db_row)
    for change in (dict(cost=0.0043), dict(tokens_output=81), dict(model_used="OpenAI/gpt-4o"), dict(user_id=None),
                   dict(timestamp="2024-03-01 10:00:01"), dict(action_type="conversation")):
        assert usage_content_key(dict(db_row, **change)) != usage_content_key(db_row), change
    assert json.loads(usage_content_key(db_row))["timestamp"] == "2024-03-01T10:00:00.000Z"
    text_numbers = dict(db_row, cost="0.0042", tokens_input="120", tokens_output=80.0)
    assert usage_content_key(text_numbers) == usage_content_key(db_row)
    assert usage_content_key(dict(db_row, cost="abc")) != usage_content_key(db_row)   # no exception


def test_content_key_of_a_plain_row_is_the_canonical_json_of_its_values():
    # Plain rows (text, a float or int cost, int tokens, an export-form timestamp) have their key
    # written directly; it must be the very text the canonical encoder gives, or ids would change.
    plain = dict(user_id="u-7", conversation_id="c\"1\\é\u2028", action_type="model_call", cost=0.0042,
                 tokens_input=120, tokens_output=0, model_used="openai/gpt-4o", timestamp="2024-03-01T10:00:00.000Z")
    canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    for change in ({}, dict(cost=3), dict(cost=-0.0), dict(cost=1e-310), dict(cost=2**62), dict(user_id=None),
                   dict(model_used=None, conversation_id=None), dict(tokens_input=2**63 - 1), dict(action_type="")):
        row = dict(plain, **change)
        assert usage_content_key(row) == canonical(dict(row, cost=float(row["cost"]))), change
    # a number in a text column is kept verbatim, as the general path keeps it
    assert usage_content_key(dict(plain, user_id=7)) == canonical(dict(plain, user_id=7))
    # anything else takes the general path: the same key as its plain spelling, or its own
    assert usage_content_key(dict(plain, cost=True)) == usage_content_key(dict(plain, cost=1.0))   # as parse_number reads it
    assert usage_content_key(dict(plain, tokens_input=120.0)) == usage_content_key(plain)
    assert usage_content_key(dict(plain, cost=float("nan"))) != usage_content_key(plain)


_CONTENT_VALUES = st.one_of(st.none(), st.text(), st.integers(), st.floats(), st.booleans(),
                            st.integers(min_value=2**63, max_value=2**70))


@settings(max_examples=300, deadline=None)
@given(st.lists(_CONTENT_VALUES, min_size=len(USAGE_CONTENT), max_size=len(USAGE_CONTENT)))
def test_content_key_text_is_the_canonical_json_of_the_content(content):
    """Ids of records without one are derived from this text: writing it directly must give
    the library's sorted, compact JSON byte for byte (unpaired surrogates, NaN, bools too)."""
    columns = sorted(USAGE_CONTENT)
    expected = json.dumps(dict(zip(columns, content)), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert lj._content_json(content) == expected


# -- bad records: quarantined with their path, the rest loads ---------------------------------------------
BAD_RECORDS = [
    (record(timestamp="not a date"), '"timestamp": expected a timestamp'),
    (record(inputTokens="abc"), '"inputTokens" (tokens_input): expected a whole number >= 0; found "abc"'),
    (record(cost=-0.5), '"cost": expected a number >= 0; found -0.5'),
    (record(timestamp=...), "timestamp: missing"),
    (record(cost=...), "cost: missing"),
    (record(outputTokens=...), "tokens_output: missing"),
    (record(action="refund"), '"action" (action_type): expected one of conversation, model_call, sync; found "refund"'),
    (record(outputTokens=2.5), '"outputTokens" (tokens_output): expected a whole number'),
    (record(cost=True), '"cost": expected a number'),
    (record(model=["a"]), '"model" (model_used): expected text'),
    (record(promptTokens=121), "tokens_input: \"inputTokens\" and \"promptTokens\" disagree (120 and 121)"),
    # the earlier key is named as the record spells it
    (record(inputTokens=..., input_tokens="120", tokensInput=None, promptTokens=121),
     "tokens_input: \"input_tokens\" and \"promptTokens\" disagree (\"120\" and 121)"),
    # a refused alias refuses the field, whatever the other keys say
    (record(promptTokens="lots", prompt_tokens=120),
     '"promptTokens" (tokens_input): expected a whole number >= 0; found "lots"'),
    (record(timestamp=True), '"timestamp": expected a timestamp'),
    (record(inputTokens="9223372036854775808"), "expected a whole number"),
    ([1, 2], "expected an object (a usage record); found an array"),
    ("text", "expected an object (a usage record); found a string"),
    (None, "expected an object (a usage record); found null"),
]


@pytest.mark.parametrize("bad, reason", BAD_RECORDS)
@pytest.mark.parametrize("layout", ["wrapped", "ndjson"])
def test_a_bad_record_is_quarantined_and_the_rest_loads(tmp_path, layout, bad, reason):
    recs = [record(id=f"ok-{i}") for i in range(12)] + [bad] + [record(id="ok-13")]
    text = json.dumps({"records": recs}) if layout == "wrapped" else "\n".join(json.dumps(r) for r in recs)
    rows, (q,) = read("usage_monitor", write(tmp_path, "u.json", text))
    assert [r.values["id"] for r in rows] == [f"ok-{i}" for i in range(12)] + ["ok-13"]
    assert q.json_path == ("$.records[12]" if layout == "wrapped" else "line 13")
    assert reason in q.reason
    assert json.loads(q.raw) == bad and q.file == str(tmp_path / "u.json")


def test_aliases_that_agree_give_one_value_and_defaults_fill_the_rest(tmp_path):
    recs = [record(id="a", inputTokens=None, input_tokens="120", promptTokens=120.0, action=None),
            record(id="b", model=..., userId=...)]
    rows, quarantined = read("usage_monitor", write(tmp_path, "u.json", json.dumps({"records": recs})))
    assert quarantined == []
    a, b = (r.values for r in rows)
    assert a["tokens_input"] == 120 and a["action_type"] == "model_call"
    assert b["model_used"] is None and b["user_id"] is None and b["tokens_input"] == 120
    assert list(a) == list(b)          # every field, in the layout's order


def _usage_fields():
    """The usage layout's fields compiled afresh: a spec whose remembered shapes start empty."""
    return lj._compile_fields("usage_monitor", pipeline_file("legacy_json.yaml")["files"]["usage_monitor"]["fields"])


_USAGE_KEYS = sorted({k for rule in pipeline_file("legacy_json.yaml")["files"]["usage_monitor"]["fields"].values()
                      for k in rule["keys"]}) + ["sessionId", "meta"]
_RECORD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**65), 2**65), st.floats(), st.text(max_size=8),
                           st.sampled_from(["2024-03-01T10:00:00.000Z", "1709287200", " Sync ", "", " ", "now",
                                            "\ud800", "model_call"]),
                           st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(_USAGE_KEYS), _RECORD_VALUES, max_size=12), min_size=1, max_size=6))
def test_records_of_a_remembered_shape_read_as_key_by_key(records):
    # Records whose keys come in an order already seen skip the per-key lookups; what they
    # give (values, problems, extra keys) must be what the general key-by-key loop gives,
    # the first time a shape is seen and every time after, aliases and refusals included.
    spec = _usage_fields()
    for rec in records + records:
        assert _typed(lj._extract(spec, rec)) == _typed(lj._extract_by_key(spec, rec, None, None))


def _typed(extracted):
    """(values, problems, extra) with each value's type beside it: 0 == 0.0 == False in Python,
    not in SQLite, which stores INTEGER and REAL apart."""
    values, problems, extra = extracted
    return {k: (type(v), v) for k, v in values.items()}, problems, extra


# Values in each field's common form (what a shape's compiled reader takes), at its edges too,
# and values just outside it.
_COMMON = {
    "text": st.sampled_from(["u-1", "openai/gpt-4o", " padded ", "12", "x" * 40, "é"]),
    "action": st.sampled_from(["model_call", " Sync ", "CONVERSATION", "sync\n"]),
    "number": st.one_of(st.sampled_from([5e-324, 0.5, 1e308, 0, 1, 2**63 - 1]), st.floats(min_value=1e-9, max_value=1e6)),
    "integer": st.sampled_from([0, 1, 2**63 - 1, 480]),
    "timestamp": st.sampled_from(["2024-03-01T10:00:00.000Z", "1999-12-31T23:59:59.999Z", 0, 1_709_287_200,
                                  1_709_287_200_000, 99_999_999_999]),
}
_PLAIN_KEYS = {"id": "text", "timestamp": "timestamp", "conversationId": "text", "userId": "text", "model": "text",
               "action": "action", "inputTokens": "integer", "outputTokens": "integer", "cost": "number"}
_OUTSIDE = st.one_of(
    st.none(), st.booleans(), st.sampled_from([-1, 2**63, 10**20, 0.0, -0.0, -2.5, float("inf"), "", " ", "x",
                                               "2024-02-30T10:00:00.000Z", "2024-03-01 10:00:00", "delete", [1], {}]))


@st.composite
def _plain_records(draw):
    """A usage record with the plain keys in any order, a few left out, and at most two values
    outside their field's common form."""
    keys = draw(st.permutations(list(_PLAIN_KEYS)))[draw(st.integers(0, 2)):]
    rec = {key: draw(_COMMON[_PLAIN_KEYS[key]]) for key in keys}
    for key in draw(st.lists(st.sampled_from(keys), max_size=2)):
        rec[key] = draw(_OUTSIDE)
    return rec


@settings(max_examples=500, deadline=None)
@given(_plain_records())
def test_a_shape_compiled_reader_gives_what_the_loop_gives(rec):
    # A shape's compiled reader takes a record only when every value has its field's common
    # form; what it gives must be what the loop gives, to the type. Keys in any order, some
    # missing (a required field absent from the shape leaves the record to the loop).
    spec = _usage_fields()
    steps, extra_keys, fast = lj._shape(spec, tuple(rec))
    loop = lj._extract_shaped(spec, rec, (steps, extra_keys, None))
    read = fast(rec) if fast is not None else None
    if read is not None:
        assert _typed((read, [], {})) == _typed(loop)


def test_the_usual_usage_record_is_read_by_its_shapes_compiled_reader():
    # The fast path is the one nearly every record of a usage file takes; a record with a
    # value out of the common form goes to the loop, which says what is wrong.
    spec = _usage_fields()
    for rec in (record(), record(id=None, cost=0, timestamp=1_709_287_200_000), record(action=" Sync ")):
        rec = {k: v for k, v in rec.items() if v is not None}
        fast = lj._shape(spec, tuple(rec))[2]
        assert fast is not None and fast(rec) is not None
        assert _typed(lj._extract(spec, rec)) == _typed(lj._extract_by_key(spec, rec, None, None))
    drifted = record(inputTokens="12")
    assert lj._shape(spec, tuple(drifted))[2](drifted) is None
    assert lj._extract(spec, drifted)[0]["tokens_input"] == 12
    for bad in (record(cost=-1.0), record(action="delete"), record(timestamp="now")):
        assert lj._shape(spec, tuple(bad))[2](bad) is None
        assert lj._extract(spec, bad)[1]


def test_shapes_remembered_are_bounded(tmp_path):
    # A file whose every record brings a new key would otherwise grow the memory of shapes
    # with the file: past the bound, records are read key by key, with the same result.
    spec = _usage_fields()
    for i in range(lj._SHAPES_KEPT + 50):
        rec = record(**{f"extra{i}": i})
        values, problems, extra = lj._extract(spec, rec)
        assert (values["id"], problems, extra) == ("u-1", [], {f"extra{i}": i})
    assert len(spec.shapes) == lj._SHAPES_KEPT


def test_a_record_with_two_spellings_after_plain_ones_is_still_compared(tmp_path):
    recs = [record(id="a"), record(id="b"), record(id="c", user_id="someone-else"), record(id="d")]
    rows, (q,) = read("usage_monitor", write(tmp_path, "u.json", {"records": recs}))
    assert [r.values["id"] for r in rows] == ["a", "b", "d"]
    assert q.json_path == "$.records[2]" and 'user_id: "userId" and "user_id" disagree' in q.reason


def test_duplicate_keys_and_deep_nesting_are_quarantined(tmp_path):
    text = ('{"records": [' + json.dumps(record(id="a")) +
            ', {"timestamp": 1, "inputTokens": 1, "outputTokens": 1, "cost": 1, "cost": 2},'
            ' {"timestamp": 1, "inputTokens": 1, "outputTokens": 1, "cost": 1, "meta": ' + "[" * 5000 + "]" * 5000 +
            '}, ' + json.dumps(record(id="b")) + "]}")
    rows, (dup, deep) = read("usage_monitor", write(tmp_path, "u.json", text))
    assert [r.values["id"] for r in rows] == ["a", "b"]
    assert dup.json_path == "$.records[1]" and 'duplicate key "cost" (first 1, then 2)' in dup.reason
    assert deep.json_path == "$.records[2]" and "nested deeper than 64 levels" in deep.reason
    assert json.loads(deep.raw)["cost"] == 1


def test_ndjson_lines_that_are_not_json_are_quarantined(tmp_path):
    lines = [json.dumps(record(id="a")), '{"timestamp": "x", ', '{"cost": NaN}', "not json at all",
             '{"a": 123456789012345678901234567890}', "", json.dumps(record(id="b"))]
    data = "\n".join(lines).encode() + b"\n\xff\xfe\n"
    rows, quarantined = read("usage_monitor", write(tmp_path, "u.json", data))
    assert [r.values["id"] for r in rows] == ["a", "b"]
    assert [q.json_path for q in quarantined] == ["line 2", "line 3", "line 4", "line 5", "line 8"]
    assert "truncated JSON" in quarantined[0].reason and "integer overflow" in quarantined[3].reason
    assert all("expected one JSON object per line" in q.reason for q in quarantined)
    assert json.loads(quarantined[0].raw) == '{"timestamp": "x", '
    for q in quarantined:
        q.raw.encode("utf-8")


# -- bad files: BadInput naming the file and the JSON path -------------------------------------------------
@pytest.mark.parametrize("content, where, what", [
    ("42", "$", 'expected an object with "records", an array of records, or one JSON object per line; found a number'),
    ('"usage"', "$", "found a string"),
    ("", "$", "the file is empty"),
    ("  \n\t ", "$", "the file is empty"),
    ('{\n "version": 2\n}', "$", 'found an object without "records"'),
    ('{"records": {"a": 1}}', "$.records", "expected an array of records; found an object"),
    ('{"records": [], "records": []}', "$.records", "a second collection"),
    ("<html>", "$", "not JSON"),
    (b"\x00\x01binary", "$", "not JSON"),
    ('{"records": [1]} trailing', "$", "not valid JSON"),
    ('[{"cost": NaN}]', "$[0].cost", "not valid JSON"),
    ('{"records": [{"cost": 1e999}]}', "$.records[0].cost", "not valid JSON"),
    ('{"records": [{"tokens": 123456789012345678901234567890}]}', "$.records[0].tokens", "integer overflow"),
    (b'{"records": [{"model": "\xff"}]}', "$.records[0].model", "not UTF-8"),
    ('{"records": [{"cost": 1},', "$.records", "file ends after 1 records"),
    ('{"records": [{"cost": 1}]', "$", "truncated JSON"),
    ('[{"cost": 1}, {"co', "$[1]", "file ends inside a record (truncated JSON)"),
])
def test_bad_usage_files(tmp_path, content, where, what):
    path = write(tmp_path, "usage-monitor.json", content)
    message = bad_input("usage_monitor", path)
    assert message.startswith(f"{path} {where}: "), message
    assert what in message


def test_truncation_names_the_record_after_the_rows_before_it(tmp_path):
    text = json.dumps({"records": [record(id=f"r{i}") for i in range(60)]})
    cut = text.index('"r41"') + 10
    path = write(tmp_path, "usage-monitor.json", text[:cut])
    reader = read_json_source("usage_monitor", path)
    got = []
    with pytest.raises(BadInput) as info:
        for item in reader:
            got.append(item)
    assert len(got) == 41 and all(isinstance(i, JsonRow) for i in got)
    assert info.value.message == f"{path} $.records[41]: file ends inside a record (truncated JSON)"


def test_unreadable_file_is_bad_input(tmp_path):
    (tmp_path / "dir.json").mkdir()
    for kind in KINDS:
        assert "cannot be read" in bad_input(kind, tmp_path / "dir.json")
    assert "cannot be read" in bad_input("usage_monitor", tmp_path / "missing.json")


def test_the_usage_file_is_streamed_not_loaded(tmp_path, monkeypatch):
    path = write(tmp_path, "u.json", {"records": [record(id=f"r{i}") for i in range(50)]})

    def refuse(*a, **k):
        raise AssertionError("the usage file must be streamed")

    monkeypatch.setattr(json, "load", refuse)
    monkeypatch.setattr(json, "loads", refuse)
    rows, _ = read("usage_monitor", path)
    assert len(rows) == 50


# -- budget.json ---------------------------------------------------------------------------------------------
def test_budget_periods_layout(tmp_path):
    doc = {"userId": "u1", "currency": "USD",
           "daily": {"limit": 2.5, "spent": "0.84", "periodStart": "2025-06-30T00:00:00.000Z",
                     "periodEnd": 1751327999999, "enabled": True},
           "monthly": {"limit": "40", "spent": 12, "periodStart": "2025-06-01 00:00:00", "periodEnd": "2025-06-30",
                       "enabled": "false"},
           "yearly": {"limit": "unlimited", "periodStart": "2025-01-01", "periodEnd": "2025-12-31"}}
    rows, (q,) = read("budget", write(tmp_path, "budget.json", doc))
    assert [r.json_path for r in rows] == ["$.daily", "$.monthly"]
    assert rows[0].values == {"id": "json-budget-u1-daily", "user_id": "u1", "period_type": "daily",
                              "limit_amount": 2.5, "current_spent": 0.84, "period_start": "2025-06-30T00:00:00.000Z",
                              "period_end": "2025-06-30T23:59:59.999Z", "is_active": 1, "_extra": '{"currency": "USD"}'}
    assert rows[1].values["limit_amount"] == 40 and rows[1].values["is_active"] == 0
    assert q.json_path == "$.yearly" and '"limit" (limit_amount): expected a number >= 0; found "unlimited"' in q.reason


def test_budget_list_layout(tmp_path):
    doc = {"userId": "u1", "budgets": [
        {"period": "Daily", "limit": 1, "period_start": "2025-06-30", "period_end": "2025-06-30 23:59:59"},
        {"period": "monthly", "userId": "u2", "limit": 40, "periodStart": 1748736000, "periodEnd": 1751327999,
         "isActive": 0},
        {"period": "weekly", "limit": 10, "periodStart": "2025-06-24", "periodEnd": "2025-06-30"},
        {"period": "daily", "limit": 3, "periodStart": "2025-06-30", "periodEnd": "2025-06-30"},
        {"limit": 3, "periodStart": "2025-06-30"},
        "monthly"]}
    rows, quarantined = read("budget", write(tmp_path, "budget.json", doc))
    assert [(r.values["id"], r.values["current_spent"], r.values["is_active"]) for r in rows] == [
        ("json-budget-u1-daily", 0.0, 1), ("json-budget-u2-monthly", 0.0, 0)]
    assert rows[1].values["period_start"] == "2025-06-01T00:00:00.000Z"
    reasons = {q.json_path: q.reason for q in quarantined}
    assert "expected one of daily, monthly, yearly" in reasons["$.budgets[2]"]
    assert "a second daily budget" in reasons["$.budgets[3]"] and "$.budgets[0]" in reasons["$.budgets[3]"]
    assert "period_type: missing" in reasons["$.budgets[4]"] and "period_end: missing" in reasons["$.budgets[4]"]
    assert "expected an object (a budget); found a string" in reasons["$.budgets[5]"]


def test_budget_user_missing_or_conflicting(tmp_path):
    rows, (q,) = read("budget", write(tmp_path, "b.json", {"daily": {"limit": 1, "periodStart": "2025-01-01",
                                                                      "periodEnd": "2025-01-02"}}))
    assert rows == [] and "user_id: missing" in q.reason
    _, (q,) = read("budget", write(tmp_path, "b.json", {"userId": "u", "daily": {
        "period": "monthly", "limit": 1, "periodStart": "2025-01-01", "periodEnd": "2025-01-02"}}))
    assert 'period_type: the record says "monthly" but its place says "daily"' in q.reason
    assert read("budget", write(tmp_path, "b.json", {})) == ([], [])


@pytest.mark.parametrize("content, where, what", [
    ("[1, 2]", "$", "found an array"),
    ('{"budgets": 5}', "$.budgets", "expected an array of budgets; found a number"),
    ('{"budgets": [], "daily": {}}', "$", "expected one layout"),
    ('{"limits": {}}', "$", 'found an object with keys "limits"'),
    ('{"userId": "a", "userId": "b", "daily": {}}', "$", 'duplicate key "userId"'),
    ('{"userId": ["a"], "daily": {}}', "$.userId", "expected text"),
    ('{"daily": {"limit": 1, ', "$.daily", "truncated JSON"),
    ("", "$", "the file is empty"),
    ('{"daily": {"limit": NaN}}', "$.daily.limit", "not valid JSON"),
])
def test_bad_budget_files(tmp_path, content, where, what):
    path = write(tmp_path, "budget.json", content)
    message = bad_input("budget", path)
    assert message.startswith(f"{path} {where}: ") and what in message, message


# -- cost-tracking.json --------------------------------------------------------------------------------------
def stages(**models):
    out = {}
    for i, (stage, model) in enumerate(models.items()):
        out[stage] = {"cost": 0.001 * (i + 1), "inputTokens": 10 * (i + 1), "outputTokens": 5 * (i + 1), "model": model}
    return out


def test_cost_tracking_rows(tmp_path):
    doc = {"version": 1, "conversations": {
        "conv-1": {"totalCost": 0.006, "timestamp": "2024-05-01T10:00:00.000Z",
                   "stages": stages(curator="d/4", generator="a/1", refiner="b/2", validator="c/3")},
        "conv 2": {"total_cost": "0.001", "created_at": 1714557600000,
                   "stages": {"generator": {"cost": 0.001, "input_tokens": 3, "output_tokens": 4}}},
        "conv-3": {"totalCost": 1, "timestamp": "2024-05-01", "stages": {"summarizer": {}}},
        "conv-4": {"totalCost": 1, "timestamp": "2024-05-01", "stages": {"generator": {"cost": -1}}},
        "conv-5": [1]}}
    rows, quarantined = read("cost_tracking", write(tmp_path, "cost-tracking.json", doc))
    one, two = rows
    assert one.json_path == '$.conversations["conv-1"]'
    assert one.values["conversation_id"] == "conv-1" and one.values["total_cost"] == 0.006
    assert list(json.loads(one.values["cost_per_stage"])) == ["generator", "refiner", "validator", "curator"]
    assert json.loads(one.values["cost_per_stage"])["curator"] == 0.001
    assert json.loads(one.values["tokens_per_stage"])["refiner"] == {"input": 30, "output": 15}
    assert json.loads(one.values["provider_breakdown"]) == {"generator": "a/1", "refiner": "b/2", "validator": "c/3",
                                                            "curator": "d/4"}
    assert one.values["_models"] == ["a/1", "b/2", "c/3", "d/4"]
    assert two.json_path == '$.conversations["conv 2"]'
    assert two.values["created_at"] == "2024-05-01T10:00:00.000Z" and two.values["total_cost"] == 0.001
    assert two.values["provider_breakdown"] is None and two.values["_models"] == []
    reasons = {q.json_path: q.reason for q in quarantined}
    assert 'unknown stage "summarizer"' in reasons['$.conversations["conv-3"]']
    assert 'stages.generator: "cost": expected a number >= 0; found -1' in reasons['$.conversations["conv-4"]']
    assert "stages.generator: input: missing" in reasons['$.conversations["conv-4"]']
    assert "expected an object" in reasons['$.conversations["conv-5"]']
    assert json.loads(quarantined[0].raw) == {"conv-3": doc["conversations"]["conv-3"]}


def test_cost_tracking_duplicate_conversation(tmp_path):
    entry = json.dumps({"totalCost": 1, "timestamp": "2024-05-01", "stages": {}})
    path = write(tmp_path, "c.json", '{"conversations": {"c1": %s, "c1": %s}}' % (entry, entry))
    rows, (q,) = read("cost_tracking", path)
    assert len(rows) == 1 and "listed twice" in q.reason and q.json_path == "$.conversations.c1"


@pytest.mark.parametrize("content, where, what", [
    ('{"conversations": []}', "$.conversations", "expected an object keyed by conversation id; found an array"),
    ("[]", "$", "found an array"),
    ('{"totals": {}}', "$", 'found an object without "conversations"'),
    ('{"conversations": {"c1": {"totalCost": 1, ', '$.conversations.c1', "file ends inside a record"),
    ('{"conversations": {"c1": {}, ', "$.conversations", "file ends after 1 records"),
])
def test_bad_cost_tracking_files(tmp_path, content, where, what):
    path = write(tmp_path, "cost-tracking.json", content)
    message = bad_input("cost_tracking", path)
    assert message.startswith(f"{path} {where}: ") and what in message, message


# -- the early Rust-era files ------------------------------------------------------------------------------
def test_license(tmp_path):
    doc = {"key": "HIVE-1", "tier": "Premium", "daily_limit": "500", "features": ["a", "b"], "user_id": "u",
           "email": "e@x", "expires_at": None, "validated_at": "2025-06-29T09:00:15.412Z", "machine": "m"}
    (row,), _ = read("license", write(tmp_path, "license.json", doc))
    assert row.json_path == "$"
    assert row.values == {"key": "HIVE-1", "tier": "premium", "daily_limit": 500, "features": '["a", "b"]',
                          "user_id": "u", "email": "e@x", "expires_at": None,
                          "validated_at": "2025-06-29T09:00:15.412Z", "_extra": '{"machine": "m"}'}
    _, (q,) = read("license", write(tmp_path, "license.json", dict(doc, features="a,b", validated_at=None)))
    assert '"features": expected an array' in q.reason and "validated_at: missing" in q.reason


def test_usage_stats_and_subscription_cache(tmp_path):
    (stats,), _ = read("usage_stats", write(tmp_path, "s.json", {"daily_used": 3, "monthly_used": 40,
                                                                 "credits_remaining": 812.57, "last_conversation": "c"}))
    assert stats.values == {"daily_used": 3, "monthly_used": 40, "credits_remaining": 812.57,
                            "last_conversation": "c", "_extra": None}
    doc = {"userId": "u", "email": "e", "tier": "Unlimited", "dailyLimit": 1000, "monthly_limit": 30000,
           "expires_at": "2026-06-30T00:00:00.000Z", "trial_ends_at": None, "credits_remaining": 120,
           "features": ["x"], "cached_at": 1718000000}
    (cache,), _ = read("subscription_cache", write(tmp_path, "c.json", doc))
    assert cache.values == {"user_id": "u", "email": "e", "tier": "unlimited", "daily_limit": 1000,
                            "monthly_limit": 30000, "expires_at": "2026-06-30T00:00:00.000Z", "trial_ends_at": None,
                            "features": '["x"]', "cached_at": "2024-06-10T06:13:20.000Z", "credits_remaining": 120,
                            "_extra": None}
    _, (q,) = read("subscription_cache", write(tmp_path, "c.json", dict(doc, userId=None, trial_ends_at="soon")))
    assert "user_id: missing" in q.reason and '"trial_ends_at": expected a timestamp' in q.reason


@pytest.mark.parametrize("kind", ["license", "usage_stats", "subscription_cache"])
@pytest.mark.parametrize("content, where, what", [
    ("[]", "$", "found an array"), ("", "$", "the file is empty"), ('{"a": ', "$", "truncated JSON"),
    ("{} {}", "$", "not valid JSON"), ('{"a": [1, }', "$.a[1]", "not valid JSON"),
])
def test_bad_one_object_files(tmp_path, kind, content, where, what):
    path = write(tmp_path, f"{kind}.json", content)
    message = bad_input(kind, path)
    assert message.startswith(f"{path} {where}: ") and what in message, message


def test_small_files_have_a_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(lj, "SMALL_FILE_LIMIT", 100)
    assert "larger than" in bad_input("license", write(tmp_path, "l.json", {"key": "x" * 200}))


# -- the committed sample installs and the fixture ledger -------------------------------------------------
gen = load_generator()


@pytest.fixture(scope="module", params=["typescript", "desktop"])
def sample(request, tmp_path_factory):
    home = tmp_path_factory.mktemp(request.param)
    seed = SAMPLES[request.param][1]
    ledger = gen.generate_install(home, seed=seed, variant=request.param)
    return request.param, home, ledger


def test_fixture_json_files_read_as_the_ledger_says(sample):
    variant, home, ledger = sample
    led = ledger["json"]
    found = find_json_sources(home)
    assert {k: str(p.relative_to(home)) for k, p in found.items()} == led["files"]
    assert ("license" in found) == (variant == "desktop")
    usage = led["usage_monitor"]
    rows, quarantined = read("usage_monitor", found["usage_monitor"])
    assert len(rows) + len(quarantined) == usage["records"] and len(rows) == usage["loadable"]
    assert [q.json_path for q in quarantined] == [b["path"] for b in usage["bad"]]
    for q, b in zip(quarantined, usage["bad"]):
        assert f'"{b["key"]}"' in q.reason and json.loads(q.raw) == b["record"]
    by_path = {r.json_path: r for r in rows}
    con = sqlite3.connect(f"file:{home / '.hive' / 'hive-ai.db'}?immutable=1", uri=True)

    def db_row(rid):
        return dict(zip(USAGE_COLUMNS, con.execute(f"SELECT {', '.join(USAGE_COLUMNS)} FROM usage_records WHERE id = ?",
                                                   (rid,)).fetchone()))
    for e in usage["same_id_as_db"]:
        row = by_path[e["path"]].values
        assert row["id"] == e["id"] and usage_content_key(row) == usage_content_key(db_row(e["id"]))
    for e in usage["same_content_as_db"]:
        row = by_path[e["path"]].values
        assert row["id"] == usage_record_id(db_row(e["db_id"])) and row["id"].startswith("json-")
    for e in usage["repeated_in_file"]:
        assert by_path[e["path"]].values == by_path[e["same_as"]].values
    twins = {usage_record_id(db_row(e["db_id"])) for e in usage["same_content_as_db"]}
    db_ids = {r[0] for r in con.execute("SELECT id FROM usage_records")}
    new, seen = [], set()
    for r in rows:
        if r.values["id"] not in db_ids and r.values["id"] not in twins and r.values["id"] not in seen:
            new.append(r.values)
        seen.add(r.values["id"])
    totals = usage["totals_new"]
    assert len(new) == totals["rows"]
    assert round(sum(v["cost"] for v in new), 9) == pytest.approx(totals["cost"], abs=1e-9)
    assert sum(v["tokens_input"] for v in new) == totals["tokens_input"]
    assert sum(v["tokens_output"] for v in new) == totals["tokens_output"]
    all_keys = {usage_content_key(db_row(rid)) for (rid,) in con.execute(
        "SELECT id FROM usage_records WHERE typeof(timestamp) = 'text' AND typeof(cost) != 'text'")}
    assert not [v for v in new if usage_content_key(v) in all_keys]
    con.close()


def test_fixture_small_json_files_read_as_the_ledger_says(sample):
    variant, home, ledger = sample
    led = ledger["json"]
    found = find_json_sources(home)
    rows, quarantined = read("budget", found["budget"])
    assert [q.json_path for q in quarantined] == [b["path"] for b in led["budget"]["bad"]]
    for row, want in zip(rows, led["budget"]["rows"]):
        assert row.json_path == want["path"]
        assert {k: row.values[k] for k in want if k != "path"} == {k: v for k, v in want.items() if k != "path"}
    rows, quarantined = read("cost_tracking", found["cost_tracking"])
    assert quarantined == []
    entries = led["cost_tracking"]["conversations"]
    assert {r.values["conversation_id"]: r.json_path for r in rows} == {k: e["path"] for k, e in entries.items()}
    for r in rows:
        e = entries[r.values["conversation_id"]]
        assert (r.values["total_cost"], r.values["created_at"], r.values["_models"]) == (
            e["total_cost"], e["created_at"], e["models"])
    unknown = led["cost_tracking"]["unknown_models"]
    assert unknown and all(u["model"] in [m for r in rows for m in r.values["_models"]] for u in unknown)
    credits = led["credits_remaining"]
    (stats,), _ = read("usage_stats", found["usage_stats"])
    (cache,), _ = read("subscription_cache", found["subscription_cache"])
    assert stats.values["credits_remaining"] == credits["usage_stats"]
    assert cache.values["credits_remaining"] == credits["subscription_cache"]
    assert cache.values["tier"] == led["subscription_cache"]["subscription_tier"]
    if variant == "desktop":
        (lic,), _ = read("license", found["license"])
        assert lic.values["key"] == led["license"]["key"] and lic.values["tier"] == led["license"]["tier"].lower()


# -- property tests: nothing a hostile file holds ends in a traceback --------------------------------------
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=12),
                         st.sampled_from(["2024-03-01T10:00:00Z", "abc", "now", "", "-1", "1e999", "\ud800"]))
FIELD_NAMES = st.sampled_from(["id", "timestamp", "inputTokens", "promptTokens", "outputTokens", "cost", "action",
                               "model", "records", "conversations", "stages", "generator", "daily", "budgets",
                               "userId", "limit", "periodStart", "periodEnd", "key", "tier", "features",
                               "totalCost", "user_id", "validated_at", "daily_limit"])
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(FIELD_NAMES, st.text(max_size=6)), inner, max_size=5)),
    max_leaves=20)


def outcome(kind: str, path: Path):
    """(items, refused?) -- anything but rows, quarantines or BadInput fails the test."""
    items = []
    try:
        for item in read_json_source(kind, path):
            assert isinstance(item, (JsonRow, JsonQuarantine)), item
            assert isinstance(item.json_path, str) and item.json_path
            if isinstance(item, JsonQuarantine):
                json.loads(item.raw)
                item.raw.encode("utf-8")
                assert len(item.reason.splitlines()) == 1
        return items, False
    except BadInput as exc:
        assert len(exc.message.splitlines()) == 1 and str(path) in exc.message
        return items, True


def count_items(kind, path):
    got = []
    try:
        for item in read_json_source(kind, path):
            got.append(item)
    except BadInput:
        return None
    return got


def expected_usage_count(data: bytes, items) -> int | None:
    """How many records the usage file holds, by an independent reading; None if unknown."""
    if items and items[0].json_path.startswith("line "):
        lines = data.split(b"\n")
        if lines and lines[0].startswith(b"\xef\xbb\xbf"):
            lines[0] = lines[0][3:]
        return sum(1 for line in lines if line.strip(b" \t\r\n"))
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return None
    if isinstance(doc, list):
        return len(doc)
    if isinstance(doc, dict) and isinstance(doc.get("records"), list):
        return len(doc["records"])
    if isinstance(doc, dict):
        return 1                            # a one-line object without "records": one NDJSON record
    return None


# A few seconds in all; HIVE_ETL_HYPOTHESIS_EXAMPLES=5000 for a longer hunt.
EXAMPLES = int(os.environ.get("HIVE_ETL_HYPOTHESIS_EXAMPLES", "120"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(value=JSON_VALUES, kind=st.sampled_from(KINDS), ndjson=st.booleans())
def test_any_json_value_gives_rows_quarantines_or_bad_input(tmp_path, value, kind, ndjson):
    if ndjson and isinstance(value, list):
        text = "\n".join(json.dumps(v) for v in value)
    else:
        text = json.dumps(value)            # NaN/Infinity included: not JSON, must be refused or quarantined
    path = write(tmp_path, "f.json", text)
    outcome(kind, path)


@PROPERTY
@given(data=st.binary(max_size=200), kind=st.sampled_from(KINDS))
def test_any_bytes_give_rows_quarantines_or_bad_input(tmp_path, data, kind):
    outcome(kind, write(tmp_path, "f.json", data))


def valid_files() -> dict[str, list[bytes]]:
    recs = [record(id="a"), record(id=..., promptTokens=5, inputTokens=...), record(timestamp=1709287200123, id=...),
            record(id="d", action="sync", model=..., conversationId=...)]
    budget = {"userId": "u", "daily": {"limit": 1, "spent": 0.5, "periodStart": "2025-01-01", "periodEnd": 1735775999000,
                                       "enabled": True},
              "monthly": {"limit": "40", "periodStart": "2025-01-01", "periodEnd": "2025-01-31"}}
    cost = {"conversations": {"c1": {"totalCost": 0.003, "timestamp": "2024-05-01T10:00:00Z",
                                     "stages": stages(generator="a/1", refiner="b/2")},
                              "c2": {"totalCost": 0.001, "timestamp": 1714557600000, "stages": stages(generator="x")}}}
    return {
        "usage_monitor": [json.dumps({"records": recs}, indent=2).encode(), json.dumps(recs).encode(),
                          "\n".join(json.dumps(r) for r in recs).encode()],
        "budget": [json.dumps(budget, indent=2).encode(),
                   json.dumps({"budgets": [dict(budget["daily"], period="daily", userId="u")]}).encode()],
        "cost_tracking": [json.dumps(cost, indent=2).encode()],
        "license": [json.dumps({"key": "K", "tier": "pro", "daily_limit": 5, "features": [], "user_id": "u",
                                "expires_at": None, "validated_at": "2025-01-01"}).encode()],
        "usage_stats": [json.dumps({"daily_used": 1, "monthly_used": 2, "credits_remaining": 3.5,
                                    "last_conversation": None}).encode()],
        "subscription_cache": [json.dumps({"user_id": "u", "tier": "Basic", "credits_remaining": 1,
                                           "features": ["a"], "cached_at": 1}).encode()],
    }


VALID = valid_files()
MUTATION = st.sampled_from(["truncate", "flip", "rename", "swap", "insert", "delete"])


def mutate(data: bytes, how: str, draw) -> bytes:
    if not data:
        return data
    if how == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if how == "flip":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    if how == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from([b"{", b"}", b"[", b"]", b",", b'"', b":", b"\n", b"\\", b"NaN"])) + data[at:]
    if how == "delete":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + data[at + draw(st.integers(1, 20)):]
    keys = [m for m in re.finditer(rb'"([A-Za-z_]+)"\s*:', data)]
    if not keys:
        return data
    m = draw(st.sampled_from(keys))
    if how == "rename":
        new = draw(st.one_of(FIELD_NAMES, st.text(max_size=8)))
        return data[: m.start()] + json.dumps(new).encode() + data[m.start() + len(m.group(1)) + 2:]
    # swap: the value after the key becomes another JSON value (of any type)
    start = m.end()
    text = data.decode("utf-8", "replace")
    try:
        _, end = json.JSONDecoder().raw_decode(text[start:].lstrip())
    except ValueError:
        return data
    skipped = len(text[start:]) - len(text[start:].lstrip())
    replacement = json.dumps(draw(JSON_VALUES)).encode()
    return data[:start] + replacement + data[start + skipped + end:]


@PROPERTY
@given(st.data())
def test_mutated_valid_files_give_rows_quarantines_or_bad_input(tmp_path, data):
    kind = data.draw(st.sampled_from(KINDS))
    original = data.draw(st.sampled_from(VALID[kind]))
    mutated = original
    for _ in range(data.draw(st.integers(1, 3))):
        mutated = mutate(mutated, data.draw(MUTATION), data.draw)
    path = write(tmp_path, "f.json", mutated)
    outcome(kind, path)
    if kind == "usage_monitor":
        items = count_items(kind, path)
        if items is not None:
            expected = expected_usage_count(mutated, items)
            if expected is not None:
                assert len(items) == expected


@PROPERTY
@given(st.data())
def test_usage_count_is_rows_plus_quarantines(tmp_path, data):
    records = data.draw(st.lists(st.one_of(JSON_VALUES, st.builds(record, cost=JSON_SCALARS,
                                                                  timestamp=JSON_SCALARS, inputTokens=JSON_SCALARS)),
                                 max_size=8))
    layout = data.draw(st.sampled_from(["wrapped", "array", "ndjson"]))
    try:
        if layout == "wrapped":
            text = json.dumps({"records": records}, allow_nan=False)
        elif layout == "array":
            text = json.dumps(records, allow_nan=False)
        else:
            text = "\n".join(json.dumps(r, allow_nan=False) for r in records)
    except ValueError:
        assume(False)
    assume(not re.search(r"\d{19,}", text))     # 64 bits and beyond: refused by yajl, tested above
    if layout == "ndjson":
        # one object per line: the first line must be an object (else it is another layout)
        assume(records and isinstance(records[0], dict) and "records" not in records[0])
    path = write(tmp_path, "u.json", text)
    items = count_items("usage_monitor", path)
    assert items is not None
    assert len(items) == len(records)


# -- the pure-Python ijson backend (used where yajl's C extension is not installed) ------------------------
def test_pure_python_backend_big_numbers_surrogates_and_truncation(tmp_path, monkeypatch):
    monkeypatch.setattr(lj, "_BACKEND", ijson.get_backend("python"))
    text = ('{"records": [%s, {"timestamp": 1, "inputTokens": 123456789012345678901234567890, "outputTokens": 1, '
            '"cost": 1}, {"timestamp": 1, "inputTokens": 1, "outputTokens": 1, "cost": 1%s}, '
            '{"timestamp": 1, "inputTokens": 1, "outputTokens": 1, "cost": 1, "model": "\\ud800"}]}'
            % (json.dumps(record(id="a")), "0" * 400))
    rows, quarantined = read("usage_monitor", write(tmp_path, "u.json", text))
    assert [r.values["id"] for r in rows] == ["a"] or len(rows) == 2
    assert [q.json_path for q in quarantined][:1] == ["$.records[1]"]
    assert "expected a whole number" in quarantined[0].reason
    for q in quarantined:
        q.raw.encode("utf-8")
    for r in rows:
        json.dumps(r.values, ensure_ascii=False).encode("utf-8")
    message = bad_input("usage_monitor", write(tmp_path, "t.json", text[:60]))
    assert "$.records[0]: file ends inside a record (truncated JSON)" in message


@PROPERTY
@given(st.data())
def test_pure_python_backend_mutations(tmp_path, monkeypatch, data):
    monkeypatch.setattr(lj, "_BACKEND", ijson.get_backend("python"))
    kind = data.draw(st.sampled_from(KINDS))
    mutated = data.draw(st.sampled_from(VALID[kind]))
    for _ in range(data.draw(st.integers(1, 3))):
        mutated = mutate(mutated, data.draw(MUTATION), data.draw)
    outcome(kind, write(tmp_path, "f.json", mutated))
    value = data.draw(JSON_VALUES)
    outcome(kind, write(tmp_path, "v.json", json.dumps(value)))
