"""Compare schema facts (as introspect returns them) with the spec, one readable line per difference."""

from collections import Counter

from .introspect import normalize_sql

_COLUMN_FACTS = ("type", "not_null", "default", "pk")
_INDEX_FACTS = ("columns", "unique")


def _show(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _diff_columns(table: str, actual: list, expected: list) -> list[str]:
    lines = []
    found = {c["name"]: c for c in actual}
    wanted = {c["name"]: c for c in expected}
    for name, column in wanted.items():
        if name not in found:
            lines.append(f"{table}.{name}: missing column")
            continue
        for fact in _COLUMN_FACTS:
            if column.get(fact) != found[name].get(fact):
                lines.append(
                    f"{table}.{name}: {fact} expected {_show(column.get(fact))}, found {_show(found[name].get(fact))}"
                )
    for name in found:
        if name not in wanted:
            lines.append(f"{table}.{name}: unexpected column")
    common_found = [n for n in found if n in wanted]
    common_wanted = [n for n in wanted if n in found]
    if common_found != common_wanted:
        lines.append(f"{table}: column order expected {_show(common_wanted)}, found {_show(common_found)}")
    return lines


def _fk_text(fk: tuple) -> str:
    return f"{fk[0]} -> {fk[1]}.{fk[2]}"


def _diff_foreign_keys(table: str, actual: list, expected: list) -> list[str]:
    def key(fk):
        return (fk["column"], fk["ref_table"], fk["ref_column"], fk["on_delete"])

    found, wanted = Counter(map(key, actual)), Counter(map(key, expected))
    missing, extra = list((wanted - found).elements()), list((found - wanted).elements())
    lines = []
    for fk in missing:
        other = next((e for e in extra if e[:3] == fk[:3]), None)
        if other is None:
            lines.append(f"{table}: missing foreign key {_fk_text(fk)} ON DELETE {fk[3]}")
        else:
            extra.remove(other)
            lines.append(f"{table}: foreign key {_fk_text(fk)}: on_delete expected {fk[3]}, found {other[3]}")
    lines += [f"{table}: unexpected foreign key {_fk_text(fk)} ON DELETE {fk[3]}" for fk in extra]
    return lines


def _diff_checks(table: str, actual: list, expected: list) -> list[str]:
    found, wanted = Counter(map(normalize_sql, actual)), Counter(map(normalize_sql, expected))
    missing, extra = wanted - found, found - wanted
    lines = []
    for check in expected:
        if missing[normalize_sql(check)] > 0:
            missing[normalize_sql(check)] -= 1
            lines.append(f"{table}: missing check ({check})")
    for check in actual:
        if extra[normalize_sql(check)] > 0:
            extra[normalize_sql(check)] -= 1
            lines.append(f"{table}: unexpected check ({check})")
    return lines


def _diff_indexes(table: str, actual: list, expected: list) -> list[str]:
    lines = []
    found = {i["name"]: i for i in actual}
    wanted = {i["name"]: i for i in expected}
    for name, index in wanted.items():
        if name not in found:
            lines.append(f"missing index {name} on {table}")
            continue
        for fact in _INDEX_FACTS:
            if index[fact] != found[name][fact]:
                lines.append(
                    f"index {name} on {table}: {fact} expected {_show(index[fact])}, found {_show(found[name][fact])}"
                )
        where_wanted, where_found = index.get("where"), found[name].get("where")
        if normalize_sql(where_wanted or "") != normalize_sql(where_found or ""):
            lines.append(f"index {name} on {table}: where expected {_show(where_wanted)}, found {_show(where_found)}")
    lines += [f"unexpected index {name} on {table}" for name in found if name not in wanted]
    return lines


def diff_tables(actual: dict, expected: dict) -> list[str]:
    """Every difference between two {table: facts} dicts; an empty list means identical."""
    lines = []
    for table, want in expected.items():
        if table not in actual:
            lines.append(f"missing table {table}")
            continue
        got = actual[table]
        lines += _diff_columns(table, got["columns"], want["columns"])
        if got["autoincrement"] != want["autoincrement"]:
            lines.append(f"{table}: autoincrement expected {want['autoincrement']}, found {got['autoincrement']}")
        lines += _diff_foreign_keys(table, got["foreign_keys"], want["foreign_keys"])
        lines += _diff_checks(table, got["checks"], want["checks"])
        lines += _diff_indexes(table, got["indexes"], want["indexes"])
    lines += [f"unexpected table {table}" for table in sorted(actual) if table not in expected]
    return lines


def diff_migrations(rows: list | None, expected_versions: list) -> list[str]:
    """Differences between schema_migrations rows [(version, name)] (None: no table) and the spec's versions."""
    if rows is None:
        return ["missing table schema_migrations"]
    lines, found = [], {}
    for version, name in rows:
        if version in found:
            lines.append(f"schema_migrations: version {version} appears more than once")
        found[version] = name
    wanted = {version: name for version, name in expected_versions}
    for version, name in wanted.items():
        if version not in found:
            lines.append(f"schema_migrations: missing version {version} ({name!r})")
        elif found[version] != name:
            lines.append(f"schema_migrations: version {version} name expected {name!r}, found {found[version]!r}")
    lines += [
        f"schema_migrations: unexpected version {version} ({found[version]!r})"
        for version in sorted(found, key=str)
        if version not in wanted
    ]
    return lines
