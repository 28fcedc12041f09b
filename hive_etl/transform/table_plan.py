"""The SQL that moves one table: normalised values, and why a row cannot be loaded.

For every target table a plan is built from three facts: the target schema (types, NOT
NULL, keys, foreign keys, CHECKs, UNIQUE constraints), the columns the source file really
has (PRAGMA table_info of the snapshot), and the table's rules in pipelines/tables.yaml.
The plan is three nested SELECTs over the attached snapshot `src`:

- `inner`:  one normalised value per target column (plus the raw value where normalising
            may fail, and duplicate ranks for UNIQUE constraints);
- `middle`: `_reason`, the first reason the row cannot be loaded (quarantine), and one
            `_null_<col>` per nullable column saying why its value is set to NULL (archive);
- the load itself: `INSERT INTO main.<table> SELECT ... FROM middle WHERE _reason IS NULL`.

Nothing is decided per row in Python; the loader only runs these statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..rules import is_timestamp, rules_for, subscription_tiers
from ..transform import values
from .model_ids import id_key_sql


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_text(text: str) -> str:
    """A quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def default_sql(default: str | None) -> str:
    """A column default from the schema facts as an SQL expression (double quotes are text)."""
    if default is None:
        return "NULL"
    if default.startswith('"') and default.endswith('"'):
        return sql_text(default[1:-1])
    return default


@dataclass
class ColumnPlan:
    name: str
    expr: str                 # the normalised value, over the source row `s`
    raw: str | None = None    # the raw source value, when normalising may turn it into NULL
    kind: str = "text"        # named in reasons: "timestamp", "boolean", "model id", ...
    not_null: bool = False
    source: str | None = None # the source column it comes from, if any
    fallback: str = "NULL"    # the value written when normalising fails in a nullable column


@dataclass
class TablePlan:
    table: str
    columns: list[ColumnPlan]
    pk: list[str]
    source_columns: list[str]
    skip_sql: str | None = None          # reason a row is merged into another (not written)
    renumber: bool = False               # the key is a number the target hands out: merged rows get new ones
    source_keys: list[str] = field(default_factory=list)  # the source's primary key, for quarantine/archive records
    source_schema: str = "src"           # where the rows come from: the attached snapshot, or `json` (legacy files)
    source_table: str | None = None      # the table read there, when not named like the target table
    label: str | None = None             # the name its quarantine and archive records go under
    skip_counts_as: str = "merged"       # how rows that skip_sql holds back are counted
    row_number: str = "rowid"            # the source column that numbers its rows (`_rid`)

    @property
    def source_name(self) -> str:
        return self.label or self.table
    natural_key: list[str] = field(default_factory=list)  # what identifies a row when the key is a number
    reasons: list[tuple[str, str]] = field(default_factory=list)    # (condition, message) over `n`
    nulls: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # column -> (condition, message)
    windows: list[str] = field(default_factory=list)
    orphaned: set[str] = field(default_factory=set)    # NULL-able foreign keys: set to NULL while not NULL
    parents: list[tuple[str, str]] = field(default_factory=list)   # (LEFT JOIN, key column) per foreign-key parent: one probe per row
    tallied: list[str] = field(default_factory=list)   # columns whose values hive_flag also gets, to sum what is quarantined

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def source_of(self, column: str) -> str | None:
        return next((c.source for c in self.columns if c.name == column), None)

    def raw_of(self, column: str) -> str | None:
        return next((c.raw for c in self.columns if c.name == column), None)

    def fallback_of(self, column: str) -> str:
        return next((c.fallback for c in self.columns if c.name == column), "NULL")

    def inner_sql(self, rows: str | None = None) -> str:
        """With `rows` (a condition over the source row `s`), only the rows it holds are read:
        the others are skipped before any join. Not for a plan with UNIQUE windows, which
        rank every row of the table."""
        assert rows is None or not self.windows, "UNIQUE windows rank every row: the scan cannot skip any"
        parts = [f"s.{self.row_number} AS _rid"]
        for c in self.columns:
            parts.append(f"{c.expr} AS {q(c.name)}")
            if c.raw is not None:
                parts.append(f"{c.raw} AS {q('_raw_' + c.name)}")
        parts.append(f"{self.skip_sql or 'NULL'} AS _skip")
        parts.extend(f"s.{q(k)} AS _pk_{i}" for i, k in enumerate(self.source_keys))
        parts.extend(f"s.{q(c)} AS _src_{i}" for i, c in enumerate(self.source_columns))
        parts.extend(self.windows)
        parts.extend(f"_p{i}.{q(column)} AS _parent_{i}" for i, (_, column) in enumerate(self.parents))
        joins = "".join(" " + join for join, _ in self.parents)
        where = f" WHERE {rows}" if rows else ""
        return f"SELECT {', '.join(parts)} FROM {self.source_schema}.{q(self.source_table or self.table)} AS s{joins}{where}"

    def middle_sql(self, rows: str | None = None) -> str:
        reason = "NULL"
        if self.reasons:
            reason = "CASE " + " ".join(f"WHEN {cond} THEN {msg}" for cond, msg in self.reasons) + " END"
        nulls = []
        for column, cases in self.nulls.items():
            body = " ".join(f"WHEN {cond} THEN {msg}" for cond, msg in cases)
            nulls.append(f"CASE {body} END AS {q('_null_' + column)}")
        extra = "".join(", " + n for n in nulls)
        return f"SELECT n.*, {reason} AS _reason{extra} FROM ({self.inner_sql(rows)}) AS n"

    def _replaced_when_flagged(self, column: str) -> bool:
        """Whether the value written of `column` is not simply its normalised value: a value
        that could not be normalised is NULL already, so only an orphaned foreign key, or a
        fallback other than NULL, takes the `_null_` test."""
        return column in self.orphaned or (column in self.nulls and self.fallback_of(column) != "NULL")

    def value_sql(self, column: str) -> str:
        """The value written (SQLite inlines the subqueries: each `_null_` test evaluates the
        column's expression once more, so it is made only where it changes the value)."""
        if self._replaced_when_flagged(column):
            return f"CASE WHEN m.{q('_null_' + column)} IS NOT NULL THEN {self.fallback_of(column)} ELSE m.{q(column)} END"
        return f"m.{q(column)}"

    def keep_sql(self, only: str | None = None) -> str:
        """The load's one WHERE term: 1 for a row to write. A row that is quarantined or merged
        into another is first reported to `hive_flag(rid, reason, skip, source key values...,
        the values written of the `tallied` columns..., the whole raw source row...)`, which
        records it in the quarantine or archive file and answers whether to write it (0); a
        row written with a value replaced reports each such value to `hive_nulled(position of
        the column in plan.nulls, rid, source key values..., why, original value)`, which
        archives it (and answers 1). Clean rows never leave SQL, and the arguments are only
        evaluated for flagged rows. One pass: no audit scan, nothing held in memory.

        With `only` (a condition over `m`, 0 or 1), a row outside it is neither written nor
        reported: the condition is tested first, so two statements over complementary
        conditions report each row once."""
        key = [f"m._pk_{i}" for i in range(len(self.source_keys))]
        args = ["m._rid", "m._reason", "m._skip"] + key + [self.value_sql(c) for c in self.tallied]
        args += [f"m._src_{i}" for i in range(len(self.source_columns))]
        kept = []
        for i, column in enumerate(self.nulls):
            why = f"m.{q('_null_' + column)}"
            original = f"m.{q('_raw_' + column)}" if self.raw_of(column) else f"m.{q(column)}"
            kept.append(f"CASE WHEN {why} IS NOT NULL THEN hive_nulled({', '.join([str(i), 'm._rid'] + key + [why, original])}) ELSE 1 END")
        keep = (f"CASE WHEN m._reason IS NOT NULL OR m._skip IS NOT NULL THEN hive_flag({', '.join(args)}) "
                f"ELSE {' AND '.join(kept) or '1'} END")
        return keep if only is None else f"CASE WHEN {only} THEN {keep} ELSE 0 END"

    def source_value_sql(self, column: str) -> str | None:
        """The value written of `column`, over the source row `s` alone (no parents, no other
        rows), when it depends on nothing else: a sum of it needs one plain scan of the source."""
        if self._replaced_when_flagged(column):
            return None
        return next(c.expr for c in self.columns if c.name == column)

    def insert_sql(self, only: str | None = None, rows: str | None = None) -> str:
        """The bulk load into a table that has no rows yet (or, with `only`, of rows no target
        row matches; `rows`, the same over `s`, for inner_sql): source keys are kept."""
        cols = ", ".join(q(c) for c in self.column_names)
        select = ", ".join(self.value_sql(c) for c in self.column_names)
        return (f"INSERT INTO main.{q(self.table)} ({cols}) SELECT {select} FROM ({self.middle_sql(rows)}) AS m "
                f"WHERE {self.keep_sql(only)}")

    def staged_sql(self, only: str | None = None, rows: str | None = None) -> str:
        """The rows to load (those `only` holds, if given; `rows`, the same over `s`, for
        inner_sql), with the values they would be written with (for merging)."""
        select = ", ".join(f"{self.value_sql(c)} AS {q(c)}" for c in self.column_names)
        return f"SELECT m._rid AS _rid, {select} FROM ({self.middle_sql(rows)}) AS m WHERE {self.keep_sql(only)}"



# --- building a plan -----------------------------------------------------------------------

# Kinds whose SQL rule (hive_etl.transform.values) the legacy JSON reader applies too, with
# the same functions: a value it staged under one of these kinds is already what the SQL gives.
SAME_RULE_KINDS = ("timestamp", "number", "integer", "boolean")


def _kind_expr(name: str, declared: str, src: str) -> tuple[str, str, bool]:
    """(kind, expression, may_fail) for a plain column of the given declared type."""
    declared = declared.upper()
    if is_timestamp(name):
        if declared == "INTEGER":
            return "epoch seconds", values.epoch_seconds_sql(src), True
        return "timestamp", values.timestamp_sql(src), True
    if declared == "BOOLEAN":
        return "boolean", values.boolean_sql(src), True
    if declared == "INTEGER":
        return "integer", values.integer_sql(src), True
    if declared == "REAL":
        return "number", values.real_sql(src), True
    return "text", values.text_sql(src), False


def _rule_expr(rule: str, src: str) -> tuple[str, str, bool]:
    """Named value rules used by pipelines/tables.yaml."""
    if rule == "tier_upper":
        return "tier", f"upper(trim({src}))", False
    if rule == "subscription_tier":
        tiers = ", ".join(sql_text(t) for t in subscription_tiers())
        return "subscription tier", f"CASE WHEN lower(trim({src})) IN ({tiers}) THEN lower(trim({src})) END", True
    raise ValueError(f"pipelines/tables.yaml: unknown value rule {rule!r}")


def legacy_model_sql(provider: str | None, model: str, present: set[str]) -> str:
    """The text model id spelled by a legacy provider/model column pair."""
    m = f"s.{q(model)}" if model in present else "NULL"
    p = f"s.{q(provider)}" if provider and provider in present else "NULL"
    return (
        f"CASE WHEN {m} IS NULL OR trim({m}) = '' THEN NULL WHEN instr({m}, '/') > 0 THEN trim({m}) "
        f"WHEN {p} IS NULL OR trim({p}) = '' THEN trim({m}) ELSE trim({p}) || '/' || trim({m}) END"
    )


def build_plan(
    table: str,
    spec: dict,
    source_columns: list[str],
    existing_tables: set[str],
    overrides: dict[str, ColumnPlan] | None = None,
    skip_sql: str | None = None,
    natural_key: list[str] | None = None,
    source_keys: list[str] | None = None,
    source_schema: str = "src",
    label: str | None = None,
    skip_counts_as: str = "merged",
    normalised: dict[str, str] | None = None,
    row_number: str = "rowid",
    source_unique: list[list[str]] | None = None,
) -> TablePlan:
    """The plan for one table. `existing_tables` are the tables present in the target;
    `natural_key`, for an autoincrement table, the columns that identify one of its rows;
    `normalised`, the columns whose source values were already normalised by the same rule
    (column -> kind: the legacy JSON reader's timestamps, numbers, integers and booleans),
    which are read as they are; `row_number`, the source column that numbers its rows (a
    staged JSON table's `_seq`); `source_unique`, the column sets the source table itself
    holds unique, byte for byte (hive_etl.extract.source_snapshot.unique_keys)."""
    rules = rules_for(table)
    present = set(source_columns)
    overrides = overrides or {}
    normalised = normalised or {}
    pk = [c["name"] for c in sorted(spec["columns"], key=lambda c: c["pk"]) if c["pk"]]
    columns: list[ColumnPlan] = []
    for col in spec["columns"]:
        name, declared, not_null = col["name"], col["type"], bool(col["not_null"]) or False
        if name in overrides:
            columns.append(overrides[name])
            continue
        rule = (rules.get("columns") or {}).get(name) or {}
        src_name = rule.get("from", name)
        src = f"s.{q(src_name)}"
        if src_name not in present:
            columns.append(ColumnPlan(name, default_sql(col["default"]), kind="missing", not_null=not_null))
            continue
        if "rule" in rule:
            kind, expr, may_fail = _rule_expr(rule["rule"], src)
        elif name in (rules.get("model_ids") or {}):
            legacy = rules["model_ids"][name] or {}
            by_id = f"(SELECT target_id FROM temp.model_ids WHERE source_key = {id_key_sql(src)})"
            if legacy.get("model"):
                text = legacy_model_sql(legacy.get("provider"), legacy["model"], present)
                by_id = f"coalesce({by_id}, (SELECT internal_id FROM temp.model_refs WHERE raw = {text}))"
            kind, expr, may_fail = "model id", by_id, True
        elif (rules.get("model_text") or {}).get(name) == "canonical":
            kind, expr, may_fail = "model", f"coalesce((SELECT openrouter_id FROM temp.model_refs WHERE raw = {src}), {src})", False
        else:
            kind, expr, may_fail = _kind_expr(name, declared, src)
            if kind in SAME_RULE_KINDS and normalised.get(name) == kind:
                expr, may_fail = src, False     # normalising again would change nothing
        if not_null and col["default"] is not None:
            expr = f"CASE WHEN {src} IS NULL THEN {default_sql(col['default'])} ELSE {expr} END"
        # A value another source holds for this row (pipelines/tables.yaml: "<temp table>.<column>",
        # keyed by the row's primary key): `overridden_by` wins over the row's own value,
        # `filled_from` only fills a NULL.
        if "overridden_by" in rule or "filled_from" in rule:
            table_name, column = (rule.get("overridden_by") or rule["filled_from"]).split(".")
            lookup = f"(SELECT o.{q(column)} FROM temp.{q(table_name)} AS o WHERE o.key = s.{q(pk[0])})"
            expr = f"coalesce({lookup}, {expr})" if "overridden_by" in rule else f"coalesce({expr}, {lookup})"
        fallback = default_sql(col["default"]) if rule.get("unknown") == "default" else "NULL"
        columns.append(ColumnPlan(name, expr, src if may_fail else None, kind, not_null, src_name, fallback))

    renumber = bool(spec["autoincrement"]) and not any(p in overrides for p in pk)
    plan = TablePlan(table, columns, pk, source_columns, skip_sql=skip_sql, renumber=renumber,
                     natural_key=list(natural_key or []), source_keys=[k for k in source_keys or [] if k in present],
                     source_schema=source_schema, label=label, skip_counts_as=skip_counts_as,
                     row_number=row_number)
    _add_reasons(plan, spec, existing_tables, source_unique or [])
    return plan


def _add_reasons(plan: TablePlan, spec: dict, existing_tables: set[str], source_unique: list[list[str]]) -> None:
    by_name = {c.name: c for c in plan.columns}
    integer_pk = len(plan.pk) == 1 and next(c for c in spec["columns"] if c["name"] == plan.pk[0])["type"].upper() == "INTEGER"
    reasons, nulls = plan.reasons, plan.nulls

    for p in plan.pk:
        if not integer_pk:
            reasons.append((f"n.{q(p)} IS NULL", sql_text(f"primary key {p} is NULL")))
    for c in plan.columns:
        if c.raw is not None:
            failed = f"n.{q(c.name)} IS NULL AND n.{q('_raw_' + c.name)} IS NOT NULL"
            raw = f"quote(n.{q('_raw_' + c.name)})"
            if c.kind == "model id":
                message = f"{sql_text(c.name + ' ')} || {raw} || {sql_text(': names no model of the source catalog')}"
            else:
                message = f"{sql_text(c.name + ': cannot read ')} || {raw} || {sql_text(' as ' + c.kind)}"
            if c.not_null:
                reasons.append((failed, message))
            else:
                nulls.setdefault(c.name, []).append((failed, message))
        if c.not_null and not (integer_pk and c.name in plan.pk):
            reasons.append((f"n.{q(c.name)} IS NULL", sql_text(f"{c.name} is NULL in a NOT NULL column")))

    for fk in spec["foreign_keys"]:
        col, parent, parent_col = fk["column"], fk["ref_table"], fk["ref_column"]
        value = f"n.{q(col)}"
        if parent in existing_tables:
            i = len(plan.parents)
            plan.parents.append((f"LEFT JOIN main.{q(parent)} AS _p{i} ON _p{i}.{q(parent_col)} = ({by_name[col].expr})", parent_col))
            orphan = f"{value} IS NOT NULL AND n._parent_{i} IS NULL"
        else:
            orphan = f"{value} IS NOT NULL"
        message = f"{sql_text(col + ' ')} || quote({value}) || {sql_text(f': no {parent}.{parent_col} with that value')}"
        if by_name[col].not_null:
            reasons.append((orphan, message))
        else:
            nulls.setdefault(col, []).append((orphan, message))
            plan.orphaned.add(col)

    for check in spec["checks"]:
        reasons.append((f"NOT ({check})", sql_text(f"CHECK failed: {' '.join(check.split())}")))

    # A key with a column that is always NULL (not in the source, no default) can never clash:
    # NULLs are distinct under UNIQUE, so it takes no window (a sort of the whole table).
    keys = [u for u in _unique_keys(spec, plan.pk) if all(by_name[c].expr != "NULL" for c in u)]
    for i, unique in enumerate(keys):
        present = " AND ".join(["n._skip IS NULL"] + [f"n.{q(c)} IS NOT NULL" for c in unique])
        label = ", ".join(unique)
        if not _held_unique_by_source([by_name[c] for c in unique], source_unique):
            key = ", ".join(by_name[c].expr for c in unique)
            rank = f"_unique_{i}"
            # Rows merged into another (skip_sql) are not written, so they take no rank.
            skip = plan.skip_sql or "NULL"
            plan.windows.append(f"row_number() OVER (PARTITION BY {key}, {skip} IS NULL ORDER BY s.{plan.row_number}) AS {rank}")
            reasons.append((f"{present} AND n.{rank} > 1", sql_text(f"duplicate value of UNIQUE ({label}) in the source")))
        same = " AND ".join(f"e.{q(c)} = n.{q(c)}" for c in unique)
        other = " OR ".join(f"e.{q(p)} IS NOT n.{q(p)}" for p in plan.pk)
        if unique == plan.natural_key:
            continue  # the same value in the target identifies the same row: a merge, not a clash
        reasons.append(
            (f"{present} AND EXISTS (SELECT 1 FROM main.{q(plan.table)} AS e WHERE {same} AND ({other}))",
             sql_text(f"UNIQUE ({label}) already taken in the target by another row")))


def _held_unique_by_source(columns: list[ColumnPlan], source_unique: list[list[str]]) -> bool:
    """Whether the source's own UNIQUE index already keeps these values apart: each column is
    a source column copied as it is, and some index of the source covers some of them (then
    no two source rows share them all). Such a key takes no window: ranking the rows by it
    is a sort of the whole table (1.2-1.7 s for conversation_usage's 180k rows on a heavy
    install), which would find nothing."""
    copied = {c.source for c in columns if c.source is not None and c.expr == f"s.{q(c.source)}"}
    return len(copied) == len(columns) and any(set(index) <= copied for index in source_unique)


def _unique_keys(spec: dict, pk: list[str]) -> list[list[str]]:
    keys = []
    for index in spec["indexes"]:
        if index["unique"] and index["columns"] != pk and index["columns"] not in keys and not index.get("where"):
            keys.append(index["columns"])
    return keys
