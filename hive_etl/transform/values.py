"""Value normalisation (contract section 6), as SQL expressions with Python fallbacks.

The bulk of the data is moved by SQLite itself, so each rule is an SQL expression over a
source column. Clean values take a fast path written in SQL; only drifted ones (epoch
numbers, odd date formats, numbers stored as text) reach a small deterministic Python
function registered on the connection. Those functions never raise: they return NULL for a
value they cannot normalise, and the loader turns "not NULL before, NULL after" into a
quarantine or an archived value.
"""

from __future__ import annotations

import math
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S"

# Epoch values at or above this are milliseconds (1e11 s is the year 5138).
MILLISECONDS_FROM = 100_000_000_000
LAST_SECOND = 253_402_300_799          # 9999-12-31T23:59:59Z
INT64 = 2**63

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# JavaScript's Date.prototype.toString(): "Mon Jan 15 2024 10:30:00 GMT+0100 (Central European Time)"
_JS_DATE = re.compile(r"^\w{3} (\w{3} \d{1,2} \d{4} \d{2}:\d{2}:\d{2}) GMT([+-]\d{4})")
_OTHER_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%d %b %Y %H:%M:%S")


def _iso_seconds(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS`, the year always four digits (strftime's %Y gives '702' for 702)."""
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
            f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}")


def format_utc(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.sssZ`, the one form the tool writes timestamps in."""
    moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment
    return _iso_seconds(moment) + f".{moment.microsecond // 1000:03d}Z"


_EPOCH = datetime(1970, 1, 1)   # naive UTC: its isoformat() is YYYY-MM-DDTHH:MM:SS, four-digit years
_HOURS: dict[int, str] = {}     # hours since the epoch -> "YYYY-MM-DDTHH:", for the hours met first
_HOURS_KEPT = 65536             # about seven years of hours (4 MB); scattered epochs are not remembered
_MINUTES_SECONDS = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]
_MILLISECONDS = [f".{m:03d}Z" for m in range(1000)]


def from_epoch(value: float | int) -> str | None:
    """Epoch seconds, or milliseconds from MILLISECONDS_FROM on, as `YYYY-MM-DDTHH:MM:SS.sssZ`;
    None beyond the years 1-9999 or for a float that is not finite. The calendar is asked
    once per hour of the epoch (a usage file's records fall in a few thousand), the rest is
    looked up: 0.23 us a value against 1.2 with a datetime each."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    millis = int(value) if abs(value) >= MILLISECONDS_FROM else round(value * 1000)
    seconds, milli = divmod(millis, 1000)
    hours, second = divmod(seconds, 3600)
    prefix = _HOURS.get(hours)
    if prefix is None:
        days, hour = divmod(hours, 24)
        try:
            day = (_EPOCH + timedelta(days=days)).date().isoformat()
        except OverflowError:      # before the year 1 or after 9999
            return None
        prefix = f"{day}T{hour:02d}:"
        if len(_HOURS) < _HOURS_KEPT:
            _HOURS[hours] = prefix
    return prefix + _MINUTES_SECONDS[second] + _MILLISECONDS[milli]


def parse_number(value) -> int | float | None:
    """An int or float from a number or numeric text (surrounding blanks allowed), else None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value if not isinstance(value, float) or math.isfinite(value) else None
    if isinstance(value, bytes):
        return None
    text = str(value).strip()
    if not _NUMBER.match(text):
        return None
    if re.fullmatch(r"[+-]?\d+", text) and len(text) < 19:
        return int(text)
    number = float(text)
    return number if math.isfinite(number) else None


def normalise_timestamp(value) -> str | None:
    """Any parseable point in time as `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC), else None.

    Numbers are epoch seconds, or milliseconds when 1e11 or more. Text that SQLite already
    understands never reaches this function (the SQL fast path keeps it byte for byte).
    """
    if value is None or isinstance(value, bytes):
        return None
    number = parse_number(value)
    if number is not None:
        return from_epoch(number)
    text = str(value).strip()
    if not text:
        return None
    try:
        return format_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    match = _JS_DATE.match(text)
    if match:
        try:
            return format_utc(datetime.strptime(" ".join(match.groups()), "%b %d %Y %H:%M:%S %z"))
        except ValueError:
            return None
    try:
        return format_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    for pattern in _OTHER_FORMATS:
        try:
            return format_utc(datetime.strptime(text, pattern))
        except ValueError:
            continue
    return None


def normalise_epoch_seconds(value) -> int | None:
    """A point in time as INTEGER epoch seconds (milliseconds divided), else None."""
    number = parse_number(value)
    if number is not None:
        seconds = int(number // 1000) if abs(number) >= MILLISECONDS_FROM else int(number)
        return seconds if abs(seconds) <= LAST_SECOND else None
    text = normalise_timestamp(value)
    if text is None:
        return None
    return int(datetime.strptime(text[:19], ISO_FORMAT).replace(tzinfo=timezone.utc).timestamp())


def normalise_integer(value) -> int | float | None:
    """A number for an INTEGER column: whole numbers as int, others kept as they are."""
    number = parse_number(value)
    if isinstance(number, float) and number.is_integer() and abs(number) < INT64:
        return int(number)
    if isinstance(number, int) and abs(number) >= INT64:
        return float(number)
    return number


def normalise_real(value) -> float | None:
    number = parse_number(value)
    return None if number is None else float(number)


def _never_raise(function):
    """SQL functions must not raise: an exception would abort the whole INSERT ... SELECT."""

    def guarded(value):
        try:
            return function(value)
        except Exception:  # noqa: BLE001 - an unreadable value is NULL, reported by the loader
            return None

    return guarded


def register(conn: sqlite3.Connection) -> None:
    """Make the fallbacks callable from SQL on `conn` as hive_timestamp(v) and friends."""
    for name, function in {
        "hive_timestamp": normalise_timestamp,
        "hive_epoch_seconds": normalise_epoch_seconds,
        "hive_integer": normalise_integer,
        "hive_real": normalise_real,
    }.items():
        conn.create_function(name, 1, _never_raise(function), deterministic=True)


# --- SQL expressions, one per kind of column ------------------------------------------------

def timestamp_rule_sql(col: str) -> str:
    """Kept byte for byte when it is text SQLite's datetime() reads as a date (numeric text
    would be read as a Julian day: it is an epoch number); else normalised."""
    return (
        f"CASE WHEN {col} IS NULL THEN NULL "
        f"WHEN typeof({col}) = 'text' AND {col} GLOB '*[^0-9.]*' AND datetime({col}) IS NOT NULL THEN {col} "
        f"ELSE hive_timestamp({col}) END"
    )


def timestamp_sql(col: str) -> str:
    """timestamp_rule_sql, with a first test for the form the app wrote nearly everywhere,
    'YYYY-MM-DD HH:MM:SS': datetime() gives such a value back unchanged, and a value it gives
    back unchanged (compared byte for byte, whatever the column's collation) is text with a
    date in it, which the rule keeps. One call of datetime() instead of typeof(), a GLOB and
    datetime(): a table load evaluates a value's expression more than once, and a heavy
    install holds about 4 M timestamps."""
    return f"CASE WHEN datetime({col}) = {col} COLLATE BINARY THEN {col} ELSE {timestamp_rule_sql(col)} END"


def epoch_seconds_sql(col: str) -> str:
    return (
        f"CASE WHEN typeof({col}) = 'integer' AND abs({col}) < {MILLISECONDS_FROM} THEN {col} "
        f"WHEN {col} IS NULL THEN NULL ELSE hive_epoch_seconds({col}) END"
    )


def boolean_sql(col: str) -> str:
    """1/0, 'true'/'false' and '1'/'0' (any case, blanks trimmed) become 1/0; others NULL."""
    return (
        f"CASE WHEN {col} IS NULL THEN NULL "
        f"WHEN typeof({col}) IN ('integer', 'real') AND {col} IN (0, 1) THEN CAST({col} AS INTEGER) "
        f"WHEN typeof({col}) = 'text' AND lower(trim({col})) IN ('true', '1') THEN 1 "
        f"WHEN typeof({col}) = 'text' AND lower(trim({col})) IN ('false', '0') THEN 0 "
        f"ELSE NULL END"
    )


def integer_sql(col: str) -> str:
    return f"CASE WHEN typeof({col}) IN ('integer', 'null') THEN {col} ELSE hive_integer({col}) END"


def real_sql(col: str) -> str:
    return f"CASE WHEN typeof({col}) IN ('real', 'integer', 'null') THEN {col} ELSE hive_real({col}) END"


def text_sql(col: str) -> str:
    return col
