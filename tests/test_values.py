"""Value normalisation rules (contract section 6), each on small hand-made cases."""

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hive_etl.transform import values


@pytest.fixture
def sql():
    conn = sqlite3.connect(":memory:")
    values.register(conn)

    def evaluate(expression_of, value):
        return conn.execute(f"SELECT {expression_of('v')} FROM (SELECT ? AS v)", (value,)).fetchone()[0]

    return evaluate


@pytest.mark.parametrize("kept", [
    "2024-01-15 10:30:00", "2024-01-15T10:30:00Z", "2024-01-15T10:30:00.123Z",
    "2024-01-15T10:30:00+02:00", "2024-01-15",
])
def test_timestamps_sqlite_understands_are_kept_byte_for_byte(sql, kept):
    assert sql(values.timestamp_sql, kept) == kept


@pytest.mark.parametrize("raw, expected", [
    (1705314600, "2024-01-15T10:30:00.000Z"),            # epoch seconds
    (1705314600123, "2024-01-15T10:30:00.123Z"),         # epoch milliseconds
    ("1705314600123", "2024-01-15T10:30:00.123Z"),       # milliseconds stored as text
    (1705314600.5, "2024-01-15T10:30:00.500Z"),          # fractional seconds
    (" 2024-01-15 10:30:00 ", "2024-01-15T10:30:00.000Z"),   # blanks around an ISO value
    ("Mon Jan 15 2024 12:30:00 GMT+0200 (Eastern European Standard Time)", "2024-01-15T10:30:00.000Z"),
    ("Mon, 15 Jan 2024 10:30:00 GMT", "2024-01-15T10:30:00.000Z"),
    ("2024/01/15 10:30:00", "2024-01-15T10:30:00.000Z"),
    (-40000000000, "0702-06-15T00:53:20.000Z"),          # before the year 1000: still four digits
    ("-40000000000", "0702-06-15T00:53:20.000Z"),
])
def test_other_timestamps_become_utc_iso_with_milliseconds(sql, raw, expected):
    assert sql(values.timestamp_sql, raw) == expected


@pytest.mark.parametrize("raw", ["yesterday", "N/A", "", "2024-13-45 99:00:00", b"\x00\x01"])
def test_unreadable_timestamps_become_null(sql, raw):
    assert sql(values.timestamp_sql, raw) is None


def test_null_timestamp_stays_null(sql):
    assert sql(values.timestamp_sql, None) is None


# The timestamp expression's first test (datetime(v) = v) must only ever take the values the
# rule would keep byte for byte anyway, in a column of any declared type and collation.
_DECLARED = ["TEXT", "DATETIME", "INTEGER", "REAL", "", "TEXT COLLATE RTRIM", "TEXT COLLATE NOCASE"]
_TIMESTAMP_EDGES = [
    "2024-01-15 10:30:00", "2024-01-15 10:30:00  ", " 2024-01-15 10:30:00", "2024-01-15T10:30:00",
    "2024-02-30 10:30:00", "2024-01-15 24:00:00", "9999-12-31 24:00:00", "2024-01-15 23:59:60",
    "2024-13-01 00:00:00", "0000-01-01 00:00:00", "2024-01-15 10:30:00.000", "2024-01-15",
    "2460325.5", "1705314600", 2460325.5, 1705314600, 20240115, b"2024-01-15 10:30:00", "", None,
]


def _both_timestamp_rules(declared: str, raw_values) -> list[tuple]:
    conn = sqlite3.connect(":memory:")
    values.register(conn)
    conn.execute(f"CREATE TABLE t (v {declared})")
    conn.executemany("INSERT INTO t VALUES (?)", [(v,) for v in raw_values])
    return conn.execute(f"SELECT v, {values.timestamp_sql('v')}, typeof({values.timestamp_sql('v')}), "
                        f"{values.timestamp_rule_sql('v')}, typeof({values.timestamp_rule_sql('v')}) FROM t").fetchall()


@pytest.mark.parametrize("declared", _DECLARED)
def test_timestamp_fast_path_changes_no_value(declared):
    rows = _both_timestamp_rules(declared, _TIMESTAMP_EDGES)
    assert [(v, fast, kind) for v, fast, kind, _, _ in rows] == [(v, rule, kind) for v, _, _, rule, kind in rows]
    assert any(fast == "2024-01-15 10:30:00" for _, fast, _, _, _ in rows)


@given(st.lists(st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.text(alphabet="0123456789-: T.Z+", max_size=26),
    st.integers(min_value=-2**63, max_value=2**63 - 1), st.floats(allow_nan=False), st.binary(max_size=24),
), max_size=20), st.sampled_from(_DECLARED))
@settings(max_examples=300, deadline=None)
def test_timestamp_fast_path_agrees_with_the_rule_everywhere(raw_values, declared):
    for v, fast, fast_kind, rule, rule_kind in _both_timestamp_rules(declared, raw_values):
        assert (fast, fast_kind) == (rule, rule_kind), v


@pytest.mark.parametrize("raw, expected", [
    (1705314600, 1705314600), (1705314600123, 1705314600), ("1705314600", 1705314600),
    ("2024-01-15T10:30:00Z", 1705314600), (None, None), ("soon", None),
])
def test_epoch_seconds_columns(sql, raw, expected):
    assert sql(values.epoch_seconds_sql, raw) == expected


@pytest.mark.parametrize("raw, expected", [
    (1, 1), (0, 0), ("true", 1), ("false", 0), ("TRUE", 1), (" False ", 0), ("1", 1), ("0", 0),
    (1.0, 1), (None, None), ("yes", None), (2, None), ("maybe", None),
])
def test_booleans(sql, raw, expected):
    assert sql(values.boolean_sql, raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("350", 350), (" 350 ", 350), ("3.0", 3), (350, 350), ("1e3", 1000), ("abc", None), ("", None), (None, None),
])
def test_integers_stored_as_text_become_numbers(sql, raw, expected):
    result = sql(values.integer_sql, raw)
    assert result == expected and (result is None or isinstance(result, int))


@pytest.mark.parametrize("raw, expected", [
    ("0.0042", 0.0042), ("-1.5", -1.5), (2, 2), (".5", 0.5), ("abc", None), ("nan", None), ("1,5", None),
])
def test_reals_stored_as_text_become_numbers(sql, raw, expected):
    assert sql(values.real_sql, raw) == expected


def test_normalisers_never_raise_on_odd_python_values():
    for odd in [float("inf"), float("nan"), 10**30, -10**30, "\x00", "9" * 400]:
        values.normalise_timestamp(odd)
        values.normalise_epoch_seconds(odd)
        values.normalise_integer(odd)
        values.normalise_real(odd)


@pytest.mark.parametrize("huge", ["9" * 400, "99999999999999999999", 10**30])
def test_numbers_beyond_sqlite_range_do_not_abort_the_statement(sql, huge):
    # A Python int beyond 64 bits returned to SQLite would abort the whole INSERT ... SELECT.
    sql(values.integer_sql, str(huge))
    sql(values.real_sql, str(huge))
    assert sql(values.epoch_seconds_sql, str(huge)) is None


def _calendar(number: int) -> str | None:
    """Epoch seconds (milliseconds from 1e11 on) by the calendar of datetime.fromtimestamp."""
    return _calendar_millis(number if abs(number) >= values.MILLISECONDS_FROM else number * 1000)


def _calendar_millis(millis: int) -> str | None:
    from datetime import datetime, timezone
    try:
        moment = datetime.fromtimestamp(millis // 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}.{millis % 1000:03d}Z")


@given(st.one_of(st.integers(min_value=-70_000_000_000, max_value=260_000_000_000),
                 st.integers(min_value=-70_000_000_000_000, max_value=260_000_000_000_000),
                 st.sampled_from([-62_135_596_800, -62_135_596_801, 253_402_300_799, 253_402_300_800,
                                  -62_135_596_800_000, 253_402_300_799_999, 253_402_300_800_000, 99_999_999_999])))
@settings(max_examples=500, deadline=None)
def test_epoch_numbers_are_the_calendar_instant(number):
    """Epoch numbers are formatted without asking the operating system's calendar; the years
    1 to 9999 give what datetime.fromtimestamp gives, the others nothing."""
    assert values.normalise_timestamp(number) == _calendar(number)


@given(st.floats(min_value=-70_000_000_000.0, max_value=260_000_000_000_000.0))
@settings(max_examples=500, deadline=None)
def test_fractional_epochs_keep_their_milliseconds_however_often_their_hour_is_met(number):
    """A float epoch is rounded to the millisecond (seconds below 1e11); the second time an
    hour is met its text comes from what the first time worked out, and must not differ."""
    millis = int(number) if abs(number) >= values.MILLISECONDS_FROM else round(number * 1000)
    assert values.from_epoch(number) == _calendar_millis(millis) == values.from_epoch(number)
