"""Read a SQLite database's schema back as facts, in the shape of target_schema.json's `tables`."""

import re
import sqlite3

IMPLICIT_INDEX_NOTE = "implicit (PRIMARY KEY/UNIQUE)"

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>'(?:[^']|'')*'?)
    | (?P<ident>"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?)
    | (?P<word>[\w$]+)
    | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(sql: str):
    """(kind, text, start, end) for every token of `sql`, whitespace and comments included."""
    for m in _TOKEN.finditer(sql):
        yield m.lastgroup, m.group(), m.start(), m.end()


def collapse_whitespace(sql: str) -> str:
    """Runs of whitespace and comments outside literals become one space; ends stripped."""
    parts = []
    for kind, text, _, _ in _tokens(sql):
        if kind in ("space", "comment"):
            if parts and parts[-1] != " ":
                parts.append(" ")
        else:
            parts.append(text)
    return "".join(parts).strip()


def normalize_sql(sql: str) -> str:
    """A comparison key for an SQL fragment: keywords lower-cased, whitespace dropped
    next to punctuation and collapsed elsewhere; string literals left as they are."""
    parts, gap, prev = [], False, "punct"
    for kind, text, _, _ in _tokens(sql):
        if kind in ("space", "comment"):
            gap = True
            continue
        if gap and prev != "punct" and kind != "punct":
            parts.append(" ")
        parts.append(text.lower() if kind == "word" else text)
        gap, prev = False, kind
    return "".join(parts)


def _significant(sql: str) -> list:
    return [t for t in _tokens(sql) if t[0] not in ("space", "comment")]


def _is_word(token, word: str) -> bool:
    return token[0] == "word" and token[1].upper() == word


def parse_checks(create_sql: str) -> list[str]:
    """The expression of every CHECK constraint (column- or table-level), in order."""
    tokens, checks, i = _significant(create_sql), [], 0
    while i < len(tokens) - 1:
        if _is_word(tokens[i], "CHECK") and tokens[i + 1][1] == "(":
            depth, j = 0, i + 1
            for j in range(i + 1, len(tokens)):
                if tokens[j][1] == "(":
                    depth += 1
                elif tokens[j][1] == ")":
                    depth -= 1
                    if depth == 0:
                        break
            checks.append(collapse_whitespace(create_sql[tokens[i + 1][3]:tokens[j][2]]))
            i = j
        i += 1
    return checks


def has_autoincrement(create_sql: str) -> bool:
    return any(_is_word(t, "AUTOINCREMENT") for t in _significant(create_sql))


def parse_index_where(index_sql: str | None) -> str | None:
    """The WHERE expression of a partial index's CREATE INDEX text, else None."""
    depth = 0
    for kind, text, start, end in _significant(index_sql or ""):
        depth += (text == "(") - (text == ")")
        if depth == 0 and _is_word((kind, text), "WHERE"):
            return collapse_whitespace(index_sql[end:]).rstrip(";").rstrip() or None
    return None


def _columns(conn, schema, table):
    rows = conn.execute(
        "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?, ?) ORDER BY cid",
        (table, schema),
    )
    return [
        {"name": name, "type": type_, "not_null": bool(notnull), "default": default, "pk": pk}
        for name, type_, notnull, default, pk, hidden in rows
        if hidden != 1
    ]


def _foreign_keys(conn, schema, table):
    rows = conn.execute(
        "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?, ?) ORDER BY id, seq",
        (table, schema),
    )
    return [
        {"column": column, "ref_table": ref_table, "ref_column": ref_column, "on_delete": on_delete}
        for column, ref_table, ref_column, on_delete in rows
    ]


def _indexes(conn, schema, table, index_sql):
    result = []
    rows = conn.execute("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?, ?)", (table, schema))
    for name, unique, origin, partial in rows.fetchall():
        columns = [
            r[0] for r in conn.execute("SELECT name FROM pragma_index_info(?, ?) ORDER BY seqno", (name, schema))
        ]
        index = {
            "name": name,
            "columns": columns,
            "unique": bool(unique),
            "where": parse_index_where(index_sql.get(name)) if partial else None,
        }
        if origin in ("pk", "u"):
            index["note"] = IMPLICIT_INDEX_NOTE
        result.append(index)
    return sorted(result, key=lambda index: index["name"])


def _master(conn, schema, type_):
    quoted = '"' + schema.replace('"', '""') + '"'
    return dict(conn.execute(f"SELECT name, sql FROM {quoted}.sqlite_master WHERE type = ?", (type_,)))


def introspect(conn: sqlite3.Connection, schema: str = "main") -> dict:
    """{table: {columns, autoincrement, foreign_keys, checks, indexes}} for every user table
    except schema_migrations (sqlite_* internal tables excluded), sorted by name."""
    tables, index_sql = _master(conn, schema, "table"), _master(conn, schema, "index")
    result = {}
    for name in sorted(tables):
        if name.startswith("sqlite_") or name == "schema_migrations":
            continue
        sql = tables[name] or ""
        result[name] = {
            "columns": _columns(conn, schema, name),
            "autoincrement": has_autoincrement(sql),
            "foreign_keys": _foreign_keys(conn, schema, name),
            "checks": parse_checks(sql),
            "indexes": _indexes(conn, schema, name, index_sql),
        }
    return result


def migration_rows(conn: sqlite3.Connection, schema: str = "main") -> list[tuple[int, str]] | None:
    """[(version, name)] from schema_migrations ordered by version, or None without that table."""
    quoted = '"' + schema.replace('"', '""') + '"'
    if "schema_migrations" not in _master(conn, schema, "table"):
        return None
    return [tuple(r) for r in conn.execute(f"SELECT version, name FROM {quoted}.schema_migrations ORDER BY version")]
