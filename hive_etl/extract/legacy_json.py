"""Read the six legacy JSON files (contract section 5) into rows for the target tables.

`read_json_source(kind, path)` yields, record by record, a `JsonRow` (values keyed by the target
table's column names, normalised with hive_etl.transform.values) or a `JsonQuarantine` (the
record's JSON path, why it cannot load, and the record re-serialised as JSON). Which keys fill
which column, the accepted layouts and the value rules live in `pipelines/legacy_json.yaml`, so a
variant layout is a line there, not code.

The split between the two kinds of failure:

- The file as a whole is unreadable (not JSON, not UTF-8, a layout none of those accepted,
  truncated, a syntax error anywhere in a streamed file, where the parser cannot resynchronise):
  `BadInput`, one line naming the file, the JSON path and what was expected. A streamed file may
  already have yielded rows when this is raised: consume the iterator to the end before
  committing anything.
- One record is unusable (a value that cannot be normalised, a number out of range, a required
  field missing, an unknown action, duplicate keys, a record that is not an object, nesting deeper
  than MAX_DEPTH, a line of an NDJSON file that is not JSON): a `JsonQuarantine`, and reading
  goes on.

Nothing else escapes: every exception a hostile file can trigger ends as one of those two.

Parsing. Every file goes through ijson's event parser (its C backend when installed) and one
small value builder, so all files follow the same JSON rules: NaN/Infinity and integers beyond
64 bits are not JSON (yajl refuses them), a lone surrogate escape reads as "?", duplicate keys
are reported rather than silently resolved, and nesting depth is capped. The usage file and
cost-tracking.json are streamed record by record (memory flat in the file size); the four small
files are read whole, up to SMALL_FILE_LIMIT bytes.

The usage file's layout is detected from its first non-blank characters: "[" is a top-level
array; "{" whose first line is a complete object without a wrapper key ("records") is NDJSON;
any other "{" is the wrapped object, streamed.

Values (keys starting with "_" are not columns):
- every row: "_extra" = JSON text of the keys no field names (for the archive), or None;
- usage_monitor: `id` is the record's own id, else usage_record_id(values);
- cost_tracking: "_models" = the stages' model ids, in stage order (for the model-id stage).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Callable, Iterator, Mapping, NamedTuple

import ijson

from ..errors import BadInput
from ..json_text import json_string, scalar_json
from ..resources import pipeline_file
from ..transform.values import INT64, from_epoch, normalise_timestamp, parse_number

# The table each kind feeds (None: archive-only). pipelines/legacy_json.yaml says the same.
TARGET_TABLE = {
    "usage_monitor": "usage_records",
    "budget": "budget_limits",
    "cost_tracking": "cost_analytics",
    "license": "licenses",
    "usage_stats": None,
    "subscription_cache": None,
}

MAX_DEPTH = 64                  # deeper nesting inside a record is not read (quarantined)
SMALL_FILE_LIMIT = 16 * 2**20   # the four one-object files are read whole, up to this size
_NDJSON_PEEK = 2**20            # the longest first line that can make a file NDJSON
_BOM = b"\xef\xbb\xbf"
USAGE_CONTENT = ("user_id", "conversation_id", "action_type", "cost", "tokens_input",
                  "tokens_output", "model_used", "timestamp")


class JsonRow(NamedTuple):
    """One record that loads: `values` keyed by the target columns (plus "_" metadata keys).
    A named tuple: a million of them are made for a heavy usage file, at half the cost of a
    frozen dataclass."""

    file: str
    json_path: str
    values: dict


class JsonQuarantine(NamedTuple):
    """One record that cannot load; `raw` is the record as JSON (its text, as a JSON string,
    when the record could not even be parsed)."""

    file: str
    json_path: str
    reason: str
    raw: str


# --------------------------------------------------------------------------------------------
# The declarative layouts (pipelines/legacy_json.yaml)
# --------------------------------------------------------------------------------------------
_KINDS = ("text", "timestamp", "number", "integer", "boolean", "json", "any")


@dataclass(frozen=True)
class _Field:
    name: str
    keys: tuple
    kind: str
    required: bool = False
    default: object = None
    minimum: float | None = None
    allowed: tuple | None = None
    lower: bool = False
    expect: str | None = None
    normalise: object = None        # the kind's function, set when compiled


@dataclass(frozen=True)
class _Fields:
    """The fields of one record shape, and which source key names which field."""

    fields: tuple
    by_key: dict
    defaults: tuple = ()   # (name, default or None) of every field, in order
    required: tuple = ()   # the fields a record must give
    steps: dict = None     # source key -> (field, name, normalise with `allowed` checked): what _extract does per key
    required_names: frozenset = frozenset()
    shapes: dict = None    # a record's keys, in order -> what _shape made of them (filled as records arrive)


def _checked(normalise, allowed: tuple | None):
    """A field's normaliser that also refuses a value outside `allowed` (when the field lists
    them): what each step of _extract calls."""
    if allowed is None:
        return normalise
    expected = "one of " + ", ".join(allowed)

    def checked(field: _Field, value):
        result = normalise(field, value)
        if result is not None and result not in allowed:
            raise _Invalid(expected)
        return result
    return checked


def _compile_fields(where: str, rules: dict) -> _Fields:
    fields, by_key = [], {}
    for name, rule in rules.items():
        kind = rule.get("kind")
        if kind not in _KINDS:
            raise ValueError(f"legacy_json.yaml {where}.{name}: kind must be one of {_KINDS}, not {kind!r}")
        field = _Field(name=name, keys=tuple(rule["keys"]), kind=kind, required=bool(rule.get("required")),
                       default=rule.get("default"), minimum=rule.get("min"),
                       allowed=tuple(rule["allowed"]) if rule.get("allowed") else None,
                       lower=rule.get("case") == "lower", expect=rule.get("expect"), normalise=_NORMALISE[kind])
        for key in field.keys:
            if key in by_key:
                raise ValueError(f"legacy_json.yaml {where}: key {key!r} names both {by_key[key].name} and {name}")
            by_key[key] = field
        fields.append(field)
    required = tuple(f for f in fields if f.required)
    return _Fields(tuple(fields), by_key, tuple((f.name, f.default) for f in fields), required,
                   {k: (f, f.name, _checked(f.normalise, f.allowed)) for k, f in by_key.items()},
                   frozenset(f.name for f in required), {})


@cache
def layout(kind: str) -> dict:
    """The YAML entry of `kind`, with its fields compiled ("_fields", "_stage_fields")."""
    files = pipeline_file("legacy_json.yaml")["files"]
    if kind not in files:
        raise ValueError(f"unknown legacy JSON kind {kind!r}; expected one of {', '.join(files)}")
    entry = dict(files[kind])
    entry["_fields"] = _compile_fields(kind, entry["fields"])
    if "stage_fields" in entry:
        entry["_stage_fields"] = _compile_fields(f"{kind}.stage_fields", entry["stage_fields"])
    return entry


def file_layout(file_name: str) -> dict | None:
    """The layout (`layout`) of the legacy file named `file_name` whose records load into a
    table; None for a name that is not such a file (e.g. a row derived from several)."""
    for kind, table in TARGET_TABLE.items():
        entry = layout(kind)
        if table and entry["location"].rsplit("/", 1)[-1] == file_name:
            return entry
    return None


def reader_kinds(file_name: str) -> dict[str, str]:
    """Column -> the kind of value the reader made of it, for the records of the legacy file
    named `file_name` ({} for a name that is not such a file)."""
    entry = file_layout(file_name)
    return {f.name: f.kind for f in entry["_fields"].fields} if entry else {}


def find_json_sources(home: Path) -> dict[str, Path]:
    """The legacy JSON files present under `home` (each is optional), by kind."""
    found = {}
    for kind in TARGET_TABLE:
        path = Path(home) / layout(kind)["location"]
        if path.is_file():
            found[kind] = path
    return found


# --------------------------------------------------------------------------------------------
# Small helpers for messages
# --------------------------------------------------------------------------------------------
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _show(value, limit: int = 80) -> str:
    """A value as it appears in a message: JSON, ASCII, cut to `limit` characters."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = f"<{_type_of(value)} that cannot be shown>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(key: str) -> str:
    return json.dumps(key, ensure_ascii=True)


def _jpath(base: str, segments) -> str:
    out = base
    for seg in segments:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif _IDENTIFIER.match(seg):
            out += f".{seg}"
        else:
            out += f"[{_quote(seg)}]"
    return out


def _what(event: str) -> str:
    """What a JSON value starting with this parser event is, for "found ..." in messages."""
    return {"start_map": "an object", "start_array": "an array", "string": "a string", "number": "a number",
            "integer": "a number", "double": "a number", "boolean": "a boolean", "null": "null"}.get(event, event)


def _type_of(value) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "null"


def _raw(value) -> str:
    """The record re-serialised as JSON (always valid JSON, always encodable as UTF-8)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
        return text
    except (TypeError, ValueError, RecursionError, UnicodeError):
        try:
            return json.dumps(value, ensure_ascii=True, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            return json.dumps(f"<{_type_of(value)} that cannot be written as JSON>")


def _json_text(value) -> str:
    """A JSON value as the text stored in a JSON column (json.dumps' default separators)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeError:
        text = json.dumps(value, ensure_ascii=True, allow_nan=False)
    return text


# --------------------------------------------------------------------------------------------
# Parsing: one value builder over ijson events, for every file
# --------------------------------------------------------------------------------------------
class _Broken(Exception):
    """The parser failed; `segments` say where, relative to the value being built."""

    def __init__(self, segments: tuple, cause: BaseException):
        super().__init__(str(cause))
        self.segments = segments
        self.cause = cause


_PARSE_ERRORS = (ijson.JSONError, ValueError, UnicodeError, OverflowError, RecursionError)
_TOO_DEEP = f"<nested deeper than {MAX_DEPTH} levels: not read>"


def _cause_text(cause: BaseException) -> tuple[bool, str]:
    """(truncated?, what is wrong), from a parser exception."""
    message = cause.args[0] if cause.args else str(cause)
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    first = str(message).strip().splitlines()[0] if str(message).strip() else type(cause).__name__
    low = first.lower()
    if "premature eof" in low or low.startswith("incomplete"):       # yajl / pure-Python backend
        return True, "truncated JSON"
    if isinstance(cause, UnicodeError) or "utf8" in low or "utf-8" in low:
        return False, "not UTF-8 text"
    if isinstance(cause, RecursionError):
        return False, "nested too deeply"
    return False, f"not valid JSON ({first})"


class _Builder:
    """Builds one JSON value from ijson events, noting duplicate keys and over-deep nesting."""

    __slots__ = ("notes",)

    def __init__(self):
        self.notes: list[tuple[tuple, str]] = []   # (segments of the container, what)

    def build(self, event, value, events):
        """The value that starts with (event, value); consumes the rest of its events."""
        if event == "start_map":
            return self._flat_map(events)
        if event == "start_array":
            return self._nested([], None, events)
        return value

    def _flat_map(self, events):
        """An object whose values are all scalars (a usage record, normally) in a tight loop;
        at its first nested value the rest is built by `_nested`."""
        root, key = {}, None
        try:
            for event, value in events:
                if event == "end_map":
                    return root
                key = value                          # event is map_key
                event, value = next(events)
                if event == "start_map" or event == "start_array":
                    return self._nested(root, key, itertools.chain(((event, value),), events))
                if key in root:
                    self._put(root, key, value, [root], [])
                else:
                    root[key] = value
        except StopIteration:
            pass
        except _PARSE_ERRORS as exc:
            raise _Broken(self._where([root], [], key), exc) from None
        raise _Broken(self._where([root], [], key), ijson.IncompleteJSONError("parse error: premature EOF"))

    def _nested(self, root, key, events):
        """The rest of `root` (a list, or a dict whose `key` is read), nested values included."""
        stack, keys = [root], []
        try:
            for event, value in events:
                if event == "map_key":
                    key = value
                    continue
                if event == "end_map" or event == "end_array":
                    stack.pop()
                    if not stack:
                        return root
                    key = keys.pop()
                    continue
                container = stack[-1]
                if event == "start_map" or event == "start_array":
                    if len(stack) >= MAX_DEPTH:
                        self._skip(event, events)
                        self.notes.append((self._where(stack, keys, key), f"nested deeper than {MAX_DEPTH} levels"))
                        value = _TOO_DEEP
                    else:
                        child = {} if event == "start_map" else []
                        self._put(container, key, child, stack, keys)
                        stack.append(child)
                        keys.append(key)
                        key = None
                        continue
                if type(container) is dict and key not in container:
                    container[key] = value       # the common case, inline
                else:
                    self._put(container, key, value, stack, keys)
        except _PARSE_ERRORS as exc:
            raise _Broken(self._where(stack, keys, key), exc) from None
        raise _Broken(self._where(stack, keys, key), ijson.IncompleteJSONError("parse error: premature EOF"))

    def _put(self, container, key, value, stack, keys):
        if type(container) is list:
            container.append(value)
        else:
            if key in container:
                self.notes.append((self._where(stack, keys, None),
                                   f"duplicate key {_quote(key)} (first {_show(container[key], 40)}, "
                                   f"then {_show(value, 40)})"))
            container[key] = value

    @staticmethod
    def _skip(event, events):
        depth = 1
        for event, _ in events:
            if event == "start_map" or event == "start_array":
                depth += 1
            elif event == "end_map" or event == "end_array":
                depth -= 1
                if depth == 0:
                    return

    @staticmethod
    def _where(stack, keys, key) -> tuple:
        """Path segments from the root to the current position."""
        segments = []
        for level in range(1, len(stack)):
            parent = stack[level - 1]
            segments.append(keys[level - 1] if type(parent) is dict else len(parent) - 1)
        if stack and key is not None and type(stack[-1]) is dict:
            segments.append(key)
        elif stack and type(stack[-1]) is list:
            segments.append(len(stack[-1]))
        return tuple(segments)


# The best ijson backend installed (yajl2_c normally). The pure-Python fallback accepts integers
# beyond 64 bits and unpaired surrogate escapes, which the value rules below also handle.
_BACKEND = ijson


def _events(stream):
    return _BACKEND.basic_parse(stream, use_float=True)


def _skip_value(event, events):
    if event == "start_map" or event == "start_array":
        _Builder._skip(event, events)


def _parse_whole(data: bytes) -> tuple[object, list]:
    """One complete JSON document -> (value, builder notes); _Broken when it is not one."""
    builder = _Builder()
    events = _events(io.BytesIO(data))
    try:
        event, value = next(events)
    except StopIteration:
        raise _Broken((), ijson.IncompleteJSONError("parse error: premature EOF")) from None
    except _PARSE_ERRORS as exc:
        raise _Broken((), exc) from None
    result = builder.build(event, value, events)
    try:
        for _ in events:
            raise _Broken((), ijson.JSONError("parse error: trailing garbage"))
    except _PARSE_ERRORS as exc:
        raise _Broken((), exc) from None
    return result, builder.notes


def _notes_under(notes, prefix: tuple) -> list[str]:
    """The builder notes inside the value at `prefix`, as reasons naming their place."""
    out = []
    for segments, what in notes:
        if segments[: len(prefix)] == prefix:
            inner = segments[len(prefix):]
            out.append(what if not inner else f"{_jpath('', inner).lstrip('.')}: {what}")
    return out


# --------------------------------------------------------------------------------------------
# Value rules (contract section 6, via hive_etl.transform.values)
# --------------------------------------------------------------------------------------------
class _Invalid(Exception):
    """A value a field cannot take; the message says what was expected."""


_NOT_NUMERIC = re.compile(r"[^0-9.]")   # the SQL rule's GLOB '*[^0-9.]*'
_local = threading.local()


def _sqlite() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(":memory:")
    return conn


_EXPORT_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


def is_export_format(text: str) -> bool:
    """True for YYYY-MM-DDTHH:MM:SS.sssZ naming a real UTC instant, the form nearly every
    timestamp of the app takes: SQLite reads it, and its strftime('%Y-%m-%dT%H:%M:%fZ') gives it
    back unchanged, so the two functions below need not ask SQLite (about 1.5 us a call)."""
    if _EXPORT_FORMAT.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:             # a day or hour no calendar has: SQLite decides
        return False
    return True


def sqlite_reads_as_date(text: str) -> bool:
    """True when SQLite's datetime() reads `text` (what timestamp_sql keeps byte for byte)."""
    return is_export_format(text) or _sqlite().execute("SELECT datetime(?) IS NOT NULL", (text,)).fetchone()[0] == 1


def timestamp_instant(text):
    """The UTC instant a stored timestamp denotes, as SQLite's strftime('%Y-%m-%dT%H:%M:%fZ', x)
    gives it (milliseconds); the text itself when SQLite cannot read it; None for None."""
    if text is None:
        return None
    if type(text) is str and is_export_format(text):
        return text
    try:
        instant = _sqlite().execute("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', ?)", (text,)).fetchone()[0]
    except (sqlite3.Error, UnicodeError, OverflowError):
        instant = None
    return instant if instant is not None else text


def _utf8(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeError:
        raise _Invalid("text that is valid Unicode (it holds an unpaired surrogate)") from None
    return text


def _text(field: _Field, value):
    if type(value) is str:
        if not value or value.isspace():
            return None
        if _BACKEND.backend != "yajl2_c":   # yajl reads an unpaired surrogate escape as "?"
            _utf8(value)
        return value.strip().lower() if field.lower else value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _Invalid("text")


_TIMESTAMP = "a timestamp (ISO-8601 text or epoch seconds/milliseconds)"


def _timestamp(field: _Field, value):
    kind = type(value)
    if kind is str and is_export_format(value):
        return value                   # the common case
    if kind is int:                    # epoch seconds or milliseconds, the other common one
        result = from_epoch(value)
        if result is None:
            raise _Invalid(_TIMESTAMP)
        return result
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Invalid(_TIMESTAMP)
    if isinstance(value, str):
        if not value or value.isspace():
            return None
        if value.strip().lower() == "now":
            raise _Invalid(f"{_TIMESTAMP}, not the time of reading")
        if _NOT_NUMERIC.search(value) and sqlite_reads_as_date(value):
            return value
    result = normalise_timestamp(value)
    if result is None:
        raise _Invalid(_TIMESTAMP)
    return result


def _minimum(field: _Field, number):
    if field.minimum is not None and number < field.minimum:
        raise _Invalid(f"a number >= {field.minimum}")
    return number


def _number(field: _Field, value):
    if type(value) is float and value > 0.0 and (field.minimum is None or value >= field.minimum):
        return value                   # the common case (ijson gives finite floats only)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Invalid("a number" if field.minimum is None else f"a number >= {field.minimum}")
    number = parse_number(value)
    if number is None:
        raise _Invalid("a number" if field.minimum is None else f"a number >= {field.minimum}")
    if isinstance(number, int) and abs(number) >= INT64:
        number = float(number)       # beyond 64 bits: REAL (OverflowError past 1e308: not a number)
    if number == 0:
        number = type(number)(0)     # -0.0 is 0.0
    return _minimum(field, number)


def _integer(field: _Field, value):
    if type(value) is int and 0 <= value < INT64 and (field.minimum is None or value >= field.minimum):
        return value                   # the common case
    expected = "a whole number" + (f" >= {field.minimum}" if field.minimum is not None else "")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Invalid(expected)
    number = parse_number(value)
    if isinstance(number, float):
        number = int(number) if number.is_integer() else None
    if number is None or abs(number) >= INT64:
        raise _Invalid(expected)
    if field.minimum is not None and number < field.minimum:
        raise _Invalid(expected)
    return number


def _boolean(field: _Field, value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
        return 1 if value.strip().lower() in ("true", "1") else 0
    raise _Invalid("a boolean (true/false, 1/0)")


def _json(field: _Field, value):
    if field.expect == "array" and not isinstance(value, list):
        raise _Invalid("an array")
    if field.expect == "object" and not isinstance(value, dict):
        raise _Invalid("an object")
    return _json_text(value)


def _any(field: _Field, value):
    if isinstance(value, str):
        _utf8(value)
    _json_text(value)                # must be writable as JSON, for the archive
    return value


_NORMALISE = {"text": _text, "timestamp": _timestamp, "number": _number, "integer": _integer,
              "boolean": _boolean, "json": _json, "any": _any}


def _name(key: str, field: _Field) -> str:
    """How a message names a field: its source key, and the column when that differs."""
    return _quote(key) if key == field.name else f"{_quote(key)} ({field.name})"


def _extract(spec: _Fields, record: dict, implied: Mapping | None = None,
             defaults: Mapping | None = None) -> tuple[dict, list[str], dict]:
    """(values by field, problems, keys no field names) for one record object.

    `implied` values come from the layout (budget.json's period key) and must agree with the
    record; `defaults` (the file's user id) fill a field the record leaves empty.

    A file's records nearly all come with the same keys in the same order, each field named by
    one key: for those the work per key is decided once per such shape (`_shape`), and the
    loop only normalises values. Any other record takes the general loop.
    """
    if implied is None and defaults is None:
        keys = tuple(record)
        shape = spec.shapes.get(keys) or _shape(spec, keys)
        if shape is not _ALIASED:
            return _extract_shaped(spec, record, shape)
    return _extract_by_key(spec, record, implied, defaults)


def _extract_by_key(spec: _Fields, record: dict, implied: Mapping | None,
                    defaults: Mapping | None) -> tuple[dict, list[str], dict]:
    """_extract for any record: key by key, values of two keys of one field compared."""
    given, extra, problems, failed = {}, {}, [], set()   # given: field name -> normalised value
    steps = spec.steps
    for key, value in record.items():
        step = steps.get(key)
        if step is None:
            extra[key] = value
            continue
        if value is None:
            continue
        field, name, normalise = step
        try:
            result = normalise(field, value)
        except Exception as exc:  # noqa: BLE001 - a normaliser tripping over a hostile value: not loadable
            problems.append(_refusal(key, field, value, exc))
            failed.add(name)
            continue
        if result is None or name in failed:
            continue
        earlier = given.get(name)
        if earlier is None:
            given[name] = result
        elif earlier != result:
            first = next(k for k in record if k in field.keys and record[k] is not None and _given_by(field, record[k]) == earlier)
            problems.append(f"{name}: {_quote(first)} and {_quote(key)} disagree "
                            f"({_show(record[first])} and {_show(value)})")
            failed.add(name)
    values = dict(spec.defaults)        # every field, in order, with its default (None when none)
    values.update(given)
    for name in failed:                 # a refused field is None, whatever another key gave
        values[name] = None
    if implied or defaults:
        for field in spec.fields:
            name = field.name
            if name in failed:
                continue
            result = given.get(name)
            if implied and name in implied:
                if result is not None and result != implied[name]:
                    problems.append(f"{name}: the record says {_show(result)} but its place says {_show(implied[name])}")
                result = implied[name]
            if result is None and defaults and defaults.get(name) is not None:
                result = defaults[name]
            if result is None:
                result = field.default
            if result is None and field.required:
                problems.append(_missing(field))
            values[name] = result
    elif not given.keys() >= spec.required_names:   # nearly every record gives them all
        problems.extend(_missing(field) for field in spec.required if values[field.name] is None and field.name not in failed)
    return values, problems, extra


_ALIASED = object()      # the shape of records where two keys name one field: the general loop
_SHAPES_KEPT = 256       # shapes remembered per layout; a file of ever-new keys is not remembered


def _shape(spec: _Fields, keys: tuple) -> tuple:
    """(steps, extra keys, fast) for records with `keys` in this order: the step of each key a
    field names, in order, the keys no field names, and `_compile_fast`'s function for them;
    _ALIASED when two keys name one field."""
    named = [(key, *spec.steps[key]) for key in keys if key in spec.steps]   # key, field, name, ...
    if len({name for _, _, name, *_ in named}) < len(named):
        shape = _ALIASED
    else:
        shape = (tuple(named), tuple(key for key in keys if key not in spec.steps), _compile_fast(spec, named))
    if len(spec.shapes) < _SHAPES_KEPT:
        spec.shapes[keys] = shape
    return shape


def _extract_shaped(spec: _Fields, record: dict, shape: tuple) -> tuple[dict, list[str], dict]:
    """_extract for a record of a known shape where each field has one key: what the general
    loop gives, without its per-key lookups and agreement checks. A record whose every value
    has its field's common form is read by the shape's compiled function."""
    steps, extra_keys, fast = shape
    values = fast(record) if fast is not None and _BACKEND.backend == "yajl2_c" else None
    if values is not None:
        return values, [], {key: record[key] for key in extra_keys} if extra_keys else {}
    values, problems, failed = dict(spec.defaults), [], ()
    for key, field, name, normalise in steps:
        value = record[key]
        if value is None:
            continue
        try:
            result = normalise(field, value)
        except Exception as exc:  # noqa: BLE001 - a normaliser tripping over a hostile value: not loadable
            problems.append(_refusal(key, field, value, exc))
            failed += (name,)
            values[name] = None
            continue
        if result is not None:
            values[name] = result
    if None in map(values.__getitem__, spec.required_names):
        problems.extend(_missing(field) for field in spec.required if values[field.name] is None and field.name not in failed)
    return values, problems, {key: record[key] for key in extra_keys} if extra_keys else {}


# The common form of a value of each kind, and what its normaliser makes of it: (condition on
# `v`, result). Each is the first line of the kind's normaliser above, where it returns at
# once; a value in no such form is left to the normaliser itself. `min` is added where the
# field has one. The surrogate check of `_text` is not here: the compiled functions are used
# with yajl's C backend only, which never gives an unpaired surrogate.
_COMMON_FORMS = {
    "text": ("type(v) is str and v and not v.isspace()", "v"),
    "number": ("(type(v) is float and v > 0.0 or type(v) is int and 0 <= v < INT64)", "v"),
    "integer": ("type(v) is int and 0 <= v < INT64", "v"),
    "timestamp": ("type(v) is str and is_export_format(v)", "v"),
}


def _compile_fast(spec: _Fields, named: list) -> Callable[[dict], dict | None] | None:
    """A function that reads a record of this shape when every value it holds has its
    field's common form (`_COMMON_FORMS`, or epoch seconds/milliseconds as an int for a
    timestamp), and returns None for any other record (the loop of `_extract_shaped`
    decides then, refusals and all). Written out as Python for the shape: with no call per
    value, a million usage records read in about 1 s less. None when a field of the shape
    has a kind with no common form, or when a required field is neither in the shape nor
    defaulted (every such record lacks it: the loop says so)."""
    given = {name for _, _, name, _ in named}
    if any(f.name not in given and f.default is None for f in spec.required):
        return None
    env = {"INT64": INT64, "is_export_format": is_export_format, "from_epoch": from_epoch}
    lines, results = ["def read(record):"], {}
    for i, (key, field, name, _) in enumerate(named):
        if field.kind not in _COMMON_FORMS:
            return None
        condition, result = _COMMON_FORMS[field.kind]
        if field.kind == "text" and field.lower:
            result = "v.strip().lower()"
        if field.minimum is not None:
            condition = f"{condition} and v >= {float(field.minimum)!r}"
        lines += [f"    v = record[{key!r}]",
                  f"    if {condition}:",
                  f"        x{i} = {result}"]
        if field.allowed is not None:
            env[f"allowed{i}"] = frozenset(field.allowed)
            lines.append(f"        if x{i} not in allowed{i}: return None")
        if field.kind == "timestamp":
            lines.append(f"    elif type(v) is int and (x{i} := from_epoch(v)) is not None: pass")
        if not field.required:
            env[f"d{i}"] = field.default
            lines.append(f"    elif v is None: x{i} = d{i}")
        lines.append("    else: return None")
        results[name] = f"x{i}"
    for j, (name, default) in enumerate(spec.defaults):
        if name not in results:
            env[f"default{j}"] = default
            results[name] = f"default{j}"
    lines.append("    return {" + ", ".join(f"{name!r}: {results[name]}" for name, _ in spec.defaults) + "}")
    exec("\n".join(lines), env)   # noqa: S102 - the text is made here, from the layout's fields
    return env["read"]


def _refusal(key: str, field: _Field, value, exc: Exception) -> str:
    """The problem of a value its field refused (`exc`: _Invalid, saying what was expected, or
    whatever a hostile value made the normaliser raise)."""
    if isinstance(exc, _Invalid):
        return f"{_name(key, field)}: expected {exc}; found {_show(value)}"
    return f"{_name(key, field)}: expected a value of kind {field.kind}; found {_show(value)}"


def _missing(field: _Field) -> str:
    return f"{field.name}: missing (expected one of {', '.join(_quote(k) for k in field.keys)})"


def _given_by(field: _Field, value):
    """What `field` made of `value` (None when it refused it), to find the earlier of two keys."""
    try:
        return field.normalise(field, value)
    except Exception:  # noqa: BLE001 - refused: not the value given
        return None


def _extra_text(extra: dict):
    return _json_text(extra) if extra else None


# --------------------------------------------------------------------------------------------
# Usage records: content key and deterministic id
# --------------------------------------------------------------------------------------------
_canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode  # made once
_SORTED_CONTENT = tuple(sorted(USAGE_CONTENT))
_KEY_PREFIXES = tuple(("{" if i == 0 else ",") + json_string(c) + ":" for i, c in enumerate(_SORTED_CONTENT))


def usage_content_key(values: Mapping) -> str:
    """The canonical JSON (sorted keys) of a usage row's content, for equality and ids.

    Two usage rows record the same event when these keys are equal: the same user_id,
    conversation_id, action_type and model_used (text, verbatim; NULL equals NULL), the same cost
    (as REAL) and tokens (as INTEGER), and timestamps denoting the same UTC instant to the
    millisecond (timestamp_instant), however each is spelled. Works for a JsonRow's values and
    for a usage_records row normalised by the table loader alike.
    """
    plain = _plain_content_key(values)
    return plain if plain is not None else _content_key(values)


def _content_key(values: Mapping) -> str:
    """usage_content_key for any row: each value made canonical, then the JSON text."""
    content = []
    for column in _SORTED_CONTENT:
        value = values.get(column)
        if value is not None and column in ("cost", "tokens_input", "tokens_output"):
            kind = type(value)
            # an int or a finite float is its own parse_number (the reader's values are)
            number = value if kind is int or (kind is float and math.isfinite(value)) else parse_number(value)
            if number is not None:                # None (value kept as it is) when not a number
                if column == "cost":
                    value = float(number)
                else:
                    value = int(number) if float(number).is_integer() else float(number)
        elif value is not None and column == "timestamp":
            value = timestamp_instant(value)
        content.append(value)
    return _content_json(content)


def _plain_content_key(values: Mapping) -> str | None:
    """usage_content_key, written directly, for the row nearly every record is: plain values
    (scalar_json) in the text columns, which the key keeps verbatim, a finite float (or an
    int) cost, int tokens, a timestamp already in the export form. None for any other row
    (the general path decides)."""
    action, conversation, cost, model, moment, tokens_in, tokens_out, user = map(values.get, _SORTED_CONTENT)
    kind = type(cost)
    if kind is int and abs(cost) < INT64:
        cost = float(cost)
    elif kind is not float or not math.isfinite(cost):
        return None
    if (type(tokens_in) is not int or type(tokens_out) is not int or type(moment) is not str
            or not is_export_format(moment)):
        return None
    texts = [scalar_json(action), scalar_json(conversation), scalar_json(model), scalar_json(user)]
    if None in texts:
        return None
    return (f'{{"action_type":{texts[0]},"conversation_id":{texts[1]},"cost":{float.__repr__(cost)},'
            f'"model_used":{texts[2]},"timestamp":"{moment}","tokens_input":{int.__repr__(tokens_in)},'
            f'"tokens_output":{int.__repr__(tokens_out)},"user_id":{texts[3]}}}')


def _content_json(content: list) -> str:
    """`_canonical_json` of {column: value} for the sorted content columns, written directly
    when every value is plain (hive_etl/json_text.py); by the encoder otherwise."""
    parts = []
    for prefix, value in zip(_KEY_PREFIXES, content):
        text = scalar_json(value)
        if text is None:
            return _canonical_json(dict(zip(_SORTED_CONTENT, content)))
        parts.append(prefix + text)
    return "".join(parts) + "}"


def usage_record_id(values: Mapping, prefix: str = "json-") -> str:
    """The id of a usage record that has none: prefix + 32 hex of sha256(usage_content_key)."""
    key = usage_content_key(values).encode("utf-8", "surrogatepass")
    return prefix + hashlib.sha256(key).hexdigest()[:32]


# --------------------------------------------------------------------------------------------
# Records -> rows
# --------------------------------------------------------------------------------------------
def _quarantine(file: str, where: str, reason: str, record, raw_text: str | None = None) -> JsonQuarantine:
    """`record` is re-serialised; `raw_text` (already JSON) stands in for a record never parsed."""
    return JsonQuarantine(file, where, _one_line(reason), raw_text if raw_text is not None else _raw(record))


def _not_an_object(file: str, where: str, record, what: str) -> JsonQuarantine:
    return _quarantine(file, where, f"expected an object ({what}); found {_type_of(record)}", record)


def _usage_row(file: str, where: str, record, notes: list[str]):
    if not isinstance(record, dict):
        return _not_an_object(file, where, record, "a usage record")
    spec = layout("usage_monitor")
    values, problems, extra = _extract(spec["_fields"], record)
    problems = notes + problems
    if problems:
        return _quarantine(file, where, "; ".join(problems), record)
    if values["id"] is None:
        values["id"] = usage_record_id(values, spec["id_prefix"])
    values["_extra"] = _extra_text(extra)
    return JsonRow(file, where, values)


def _cost_row(file: str, where: str, conversation_id: str, record, notes: list[str]):
    if not isinstance(record, dict):
        return _not_an_object(file, where, record, "a conversation's costs")
    spec = layout("cost_tracking")
    values, problems, extra = _extract(spec["_fields"], record)
    problems = notes + problems
    if not conversation_id.strip():
        problems.insert(0, "conversation id: expected a non-empty key")
    else:
        try:
            _utf8(conversation_id)
        except _Invalid as exc:
            problems.insert(0, f"conversation id: expected {exc}")
    stages = values.pop("stages")
    cost, tokens, models, by_stage = {}, {}, {}, []
    if stages is not None and not isinstance(stages, dict):
        problems.append(f'"stages": expected an object keyed by stage name; found {_type_of(stages)}')
    elif stages:
        names = spec["stages"]
        for name, stage in stages.items():
            if name not in names:
                problems.append(f"stages: unknown stage {_quote(name)} (expected {', '.join(names)})")
                continue
            if not isinstance(stage, dict):
                problems.append(f"stages.{name}: expected an object; found {_type_of(stage)}")
                continue
            stage_values, stage_problems, stage_extra = _extract(spec["_stage_fields"], stage)
            problems.extend(f"stages.{name}: {p}" for p in stage_problems)
            by_stage.append((names.index(name), name, stage_values))
            for key, value in stage_extra.items():
                extra[f"stages.{name}.{key}"] = value
    if problems:
        return _quarantine(file, where, "; ".join(problems), {conversation_id: record})
    for _, name, stage_values in sorted(by_stage):
        cost[name] = stage_values["cost"]
        tokens[name] = {"input": stage_values["input"], "output": stage_values["output"]}
        if stage_values["model"] is not None:
            models[name] = stage_values["model"]
    return JsonRow(file, where, {
        "conversation_id": conversation_id,
        "total_cost": values["total_cost"],
        "cost_per_stage": _json_text(cost),
        "tokens_per_stage": _json_text(tokens),
        "provider_breakdown": _json_text(models) if models else None,
        "created_at": values["created_at"],
        "_models": list(models.values()),
        "_extra": _extra_text(extra),
    })


def _object_row(kind: str, file: str, where: str, record, notes: list[str]):
    if not isinstance(record, dict):
        return _not_an_object(file, where, record, kind.replace("_", " "))
    values, problems, extra = _extract(layout(kind)["_fields"], record)
    problems = notes + problems
    if problems:
        return _quarantine(file, where, "; ".join(problems), record)
    values["_extra"] = _extra_text(extra)
    return JsonRow(file, where, values)


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------
def _fail(file: str, where: str, what: str) -> BadInput:
    return BadInput(_one_line(f"{file} {where}: {what}"))


def _open(file: str, path: Path):
    try:
        return open(path, "rb")
    except OSError as exc:
        raise _fail(file, "$", f"cannot be read ({exc.strerror or type(exc).__name__})") from None


def _start(handle, file: str, expected: str) -> tuple[int, bytes]:
    """(offset of the first non-blank byte, that byte), skipping a UTF-8 BOM; BadInput if blank."""
    position, chunk = 0, handle.read(65536)
    if chunk.startswith(_BOM):
        position, chunk = len(_BOM), chunk[len(_BOM):]
    while chunk:
        stripped = chunk.lstrip(b" \t\r\n")
        if stripped:
            return position + len(chunk) - len(stripped), stripped[:1]
        position += len(chunk)
        chunk = handle.read(65536)
    raise _fail(file, "$", f"the file is empty; expected {expected}")


def _first_value_kind(byte: bytes) -> str:
    if byte == b'"':
        return "a string"
    if byte in b"-0123456789" and byte:
        return "a number"
    if byte in (b"t", b"f"):
        return "a boolean"
    if byte == b"n":
        return "null"
    return f"text that is not JSON (it starts with {_show(byte.decode('latin-1'))})"


def _read_small(kind: str, path: Path, file: str, expected: str):
    """The whole document of a one-object file -> (value, builder notes); BadInput if unreadable."""
    with _open(file, path) as handle:
        try:
            data = handle.read(SMALL_FILE_LIMIT + 1)
        except OSError as exc:
            raise _fail(file, "$", f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > SMALL_FILE_LIMIT:
        raise _fail(file, "$", f"larger than {SMALL_FILE_LIMIT // 2**20} MiB; expected {expected}")
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if not data.strip(b" \t\r\n"):
        raise _fail(file, "$", f"the file is empty; expected {expected}")
    try:
        return _parse_whole(data)
    except _Broken as exc:
        truncated, what = _cause_text(exc.cause)
        segments = exc.segments
        if truncated:                       # name the innermost value left open
            what = "file ends early (truncated JSON)"
            segments = segments[:-1]
        raise _fail(file, _jpath("$", segments), f"{what}; expected {expected}") from None


def _next(events):
    """The next parser event; the end of the events here means the file ended early."""
    for item in events:
        return item
    raise ijson.IncompleteJSONError("parse error: premature EOF")


class _Stream:
    """A streamed file: the items of one array or object, and where the parser is (for messages)."""

    def __init__(self, file: str, handle, expected: str):
        self.file, self.expected = file, expected
        self.events = _events(handle)
        self.base = "$"          # JSONPath of the collection, once found
        self.current = "$"       # JSONPath of the item being read
        self.count = 0           # items read completely
        self.inside = False      # within an item?
        self.builder = _Builder()

    def error(self, cause: BaseException, segments: tuple = ()) -> BadInput:
        truncated, what = _cause_text(cause)
        if self.inside:
            where = self.current if truncated else _jpath(self.current, segments)
            if truncated:
                what = "file ends inside a record (truncated JSON)"
        elif self.base != "$":
            where = self.base
            if truncated:
                what = f"file ends after {self.count} records, before the collection is closed (truncated JSON)"
        else:
            where = "$"
            if truncated:
                what = "file ends early (truncated JSON)"
        return _fail(self.file, where, what)

    def items(self, keyed: bool):
        """(path, key or None, value, notes) per item of the collection just opened."""
        events, builder = self.events, self.builder
        close = "end_map" if keyed else "end_array"
        while True:
            event, value = _next(events)
            if event == close:
                return
            key = None
            if keyed:                        # event is map_key
                key = value
                self.current = _jpath(self.base, (key,))
                self.inside = True
                event, value = _next(events)
            else:
                self.current = f"{self.base}[{self.count}]"
                self.inside = True
            builder.notes = []
            item = builder.build(event, value, events)
            self.inside = False
            self.count += 1
            yield self.current, key, item, _notes_under(builder.notes, ()) if builder.notes else []

    def array(self):
        """A top-level array of records."""
        _next(self.events)                   # start_array, peeked already
        yield from self.items(keyed=False)
        self.base = "$"

    def wrapped(self, keys: list, shape: str):
        """A top-level object whose key (one of `keys`) holds the collection (`shape`)."""
        events = self.events
        _next(events)                        # start_map, peeked already
        found = None
        while True:
            event, name = _next(events)
            if event == "end_map":
                break
            event, value = _next(events)
            if name not in keys:
                _skip_value(event, events)
                continue
            path = _jpath("$", (name,))
            if found is not None:
                raise _fail(self.file, path, f"a second collection (after {_quote(found)}); expected one")
            found = name
            if event != ("start_array" if shape == "array" else "start_map"):
                what = "an array of records" if shape == "array" else "an object keyed by conversation id"
                raise _fail(self.file, path, f"expected {what}; found {_what(event)}")
            self.base = path
            yield from self.items(keyed=shape == "object")
            self.base = "$"                  # the collection is closed
        if found is None:
            names = " or ".join(_quote(k) for k in keys)
            raise _fail(self.file, "$", f"expected {self.expected}; found an object without {names}")

    def guarded(self, items):
        """`items`, then the end of the file; every parser failure becomes BadInput."""
        try:
            yield from items
            for _ in self.events:
                raise _fail(self.file, "$", "unexpected content after the top-level value")
        except _Broken as exc:
            raise self.error(exc.cause, exc.segments) from None
        except _PARSE_ERRORS as exc:
            raise self.error(exc) from None


_USAGE_EXPECTED = 'an object with "records", an array of records, or one JSON object per line'


def _usage_layout(handle, offset: int, first: bytes, keys: list) -> str:
    """"array", "ndjson" or "wrapped", from the first non-blank characters."""
    if first == b"[":
        return "array"
    handle.seek(offset)
    line = handle.readline(_NDJSON_PEEK)
    if len(line) >= _NDJSON_PEEK and not line.endswith(b"\n"):
        return "wrapped"
    try:
        value, _ = _parse_whole(line)
    except _Broken:
        return "wrapped"
    return "wrapped" if isinstance(value, dict) and any(k in value for k in keys) else "ndjson"


def _read_ndjson(file: str, handle, row) -> Iterator:
    handle.seek(0)
    for number, line in enumerate(handle, 1):
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        if not line.strip(b" \t\r\n"):
            continue
        where = f"line {number}"
        try:
            record, notes = _parse_whole(line)
        except _Broken as exc:
            truncated, what = _cause_text(exc.cause)
            if truncated:
                what = "the line ends inside the object (truncated JSON)"
            text = line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
            yield _quarantine(file, where, f"{what}; expected one JSON object per line", None,
                              raw_text=json.dumps(text))
            continue
        yield row(file, where, record, _notes_under(notes, ()))


_PROGRESS_RECORDS = 8192   # usage records between two reports of the bytes read


def _read_usage_monitor(path: Path, file: str, progress: Callable[[int], None] | None = None) -> Iterator:
    keys = layout("usage_monitor")["layouts"]["wrapped"]["keys"]
    with _open(file, path) as handle:
        offset, first = _start(handle, file, _USAGE_EXPECTED)
        if first not in (b"{", b"["):
            raise _fail(file, "$", f"expected {_USAGE_EXPECTED}; found {_first_value_kind(first)}")
        shape = _usage_layout(handle, offset, first, keys)
        if shape == "ndjson":
            rows = _read_ndjson(file, handle, _usage_row)
        else:
            handle.seek(offset)
            stream = _Stream(file, handle, _USAGE_EXPECTED)
            items = stream.array() if shape == "array" else stream.wrapped(keys, "array")
            rows = (_usage_row(file, where, record, notes) for where, _, record, notes in stream.guarded(items))
        for count, row in enumerate(rows, 1):
            if progress is not None and count % _PROGRESS_RECORDS == 0:
                progress(handle.tell())
            yield row


_COST_EXPECTED = 'an object with "conversations" (an object keyed by conversation id)'


def _read_cost_tracking(path: Path, file: str) -> Iterator:
    keys = layout("cost_tracking")["layouts"]["conversations"]["keys"]
    with _open(file, path) as handle:
        offset, first = _start(handle, file, _COST_EXPECTED)
        if first != b"{":
            found = "an array" if first == b"[" else _first_value_kind(first)
            raise _fail(file, "$", f"expected {_COST_EXPECTED}; found {found}")
        handle.seek(offset)
        stream = _Stream(file, handle, _COST_EXPECTED)
        seen: dict[str, str] = {}
        for where, key, record, notes in stream.guarded(stream.wrapped(keys, "object")):
            if key in seen:
                yield _quarantine(file, where, f"conversation {_quote(key)} listed twice (first at {seen[key]})",
                                  {key: record})
                continue
            seen[key] = where
            yield _cost_row(file, where, key, record, notes)


_BUDGET_EXPECTED = 'an object with "daily", "monthly" or "yearly" budgets, or with "budgets" (an array)'


def _read_budget(path: Path, file: str) -> Iterator:
    spec = layout("budget")
    doc, notes = _read_small("budget", path, file, _BUDGET_EXPECTED)
    if not isinstance(doc, dict):
        raise _fail(file, "$", f"expected {_BUDGET_EXPECTED}; found {_type_of(doc)}")
    periods = spec["layouts"]["periods"]["keys"]
    lists = spec["layouts"]["list"]["keys"]
    user_keys = spec["user_keys"]
    top_level = [what for segments, what in notes if len(segments) == 0]
    if top_level:
        raise _fail(file, "$", f"{top_level[0]}; expected one value per key")
    has_periods = [k for k in periods if k in doc]
    has_lists = [k for k in lists if k in doc]
    if has_periods and has_lists:
        raise _fail(file, "$", f"both {_quote(has_lists[0])} and {_quote(has_periods[0])}: expected one layout, "
                               f"{_BUDGET_EXPECTED}")
    known = set(periods) | set(lists) | set(user_keys)
    if doc and not (set(doc) & known):
        keys = ", ".join(_quote(k) for k in list(doc)[:5])
        raise _fail(file, "$", f"expected {_BUDGET_EXPECTED}; found an object with keys {keys}")
    user = None
    for key in user_keys:
        if doc.get(key) is not None:
            try:
                user = _text(layout("budget")["_fields"].by_key[key], doc[key])
            except _Invalid:
                raise _fail(file, _jpath("$", (key,)), f"expected text (the user id); found {_show(doc[key])}") from None
            break
    file_extra = {k: v for k, v in doc.items() if k not in known}
    if has_lists:
        name = has_lists[0]
        entries = doc[name]
        if not isinstance(entries, list):
            raise _fail(file, _jpath("$", (name,)), f"expected an array of budgets; found {_type_of(entries)}")
        places = [((name, i), _jpath("$", (name, i)), entry, None) for i, entry in enumerate(entries)]
    else:
        places = [((p,), _jpath("$", (p,)), doc[p], p) for p in has_periods]
    seen: dict[str, str] = {}
    for segments, where, entry, period in places:
        row = _budget_row(file, where, entry, period, user, file_extra, _notes_under(notes, segments))
        if isinstance(row, JsonRow):
            if row.values["id"] in seen:
                row = _quarantine(file, where, f"a second {row.values['period_type']} budget for user "
                                               f"{_quote(row.values['user_id'])} (first at {seen[row.values['id']]})",
                                  entry)
            else:
                seen[row.values["id"]] = where
        yield row


def _budget_row(file, where, entry, period, user, file_extra, notes):
    if not isinstance(entry, dict):
        return _not_an_object(file, where, entry, "a budget")
    spec = layout("budget")
    values, problems, extra = _extract(spec["_fields"], entry, implied={"period_type": period} if period else None,
                                       defaults={"user_id": user})
    problems = notes + problems
    if problems:
        return _quarantine(file, where, "; ".join(problems), entry)
    values = {"id": spec["id_template"].format(**values), **values}
    values["_extra"] = _extra_text({**file_extra, **extra})
    return JsonRow(file, where, values)


def _read_object(kind: str, path: Path, file: str) -> Iterator:
    expected = f"one JSON object ({kind.replace('_', ' ')})"
    doc, notes = _read_small(kind, path, file, expected)
    if not isinstance(doc, dict):
        raise _fail(file, "$", f"expected {expected}; found {_type_of(doc)}")
    yield _object_row(kind, file, "$", doc, _notes_under(notes, ()))


def read_json_source(kind: str, path: Path, progress: Callable[[int], None] | None = None) -> Iterator[JsonRow | JsonQuarantine]:
    """The records of one legacy JSON file of `kind` (a key of TARGET_TABLE), one by one.
    `progress`, if given, is told how many bytes of the usage file have been read, now and then.

    Raises BadInput (one line: file, JSON path, what was expected) when the file as a whole
    cannot be read; possibly after some rows were yielded (the usage file is streamed).
    """
    if kind not in TARGET_TABLE:
        raise ValueError(f"unknown legacy JSON kind {kind!r}; expected one of {', '.join(TARGET_TABLE)}")
    layout(kind)
    path = Path(path)
    file = str(path)
    if kind == "usage_monitor":
        return _read_usage_monitor(path, file, progress)
    if kind == "cost_tracking":
        return _read_cost_tracking(path, file)
    if kind == "budget":
        return _read_budget(path, file)
    return _read_object(kind, path, file)
