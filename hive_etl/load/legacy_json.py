"""Load the staged legacy JSON records (hive_etl/extract/json_staging.py) into the target.

Each staged table is moved with the same table plans as the database (normalisation,
foreign keys, quarantine, merging), read from the attached `json` schema, after every
database table is loaded:
- usage_records: a record equal to a usage row of the source database (or, merging, of the
  target) is a duplicate and is counted once: equal means the same user, conversation,
  action, model, cost, tokens and instant (legacy_json.usage_content_key); a record whose
  own id is taken by a different row is a conflict, and the row already there stays;
- budget_limits: keyed by "json-budget-<user>-<period>";
- cost_analytics: only for conversations that have no row there yet (the others are
  duplicates of what the database holds, archived: `only_new` in pipelines/legacy_json.yaml);
- licenses: license.json; without it, users.license_key plus subscription_cache.json where
  both exist;
- users: subscription_cache.json sets subscription_tier (a known tier only) and fills a
  missing email, through the users rules of pipelines/tables.yaml (see `prepare`).
Per file, records = loaded + merged + duplicates + quarantined + archived (report `sources`).
"""

from __future__ import annotations

from ..context import RunContext, SourceCounts
from ..extract.json_staging import ROW_NUMBER, create_staging as _create_staging
from ..extract.legacy_json import USAGE_CONTENT, file_layout, reader_kinds, usage_record_id
from ..rules import merge_rule, subscription_tiers, totals_rule
from ..schema import target_spec
from ..sqlite_files import table_names
from ..transform.table_plan import build_plan, q, sql_text
from .all_tables import load_order
from .tables import load_conserving_totals, load_table, row_count

USAGE_COLUMNS = USAGE_CONTENT  # the columns whose values make two usage records the same event
DERIVED_LICENSE = "users.license_key + subscription_cache.json"


def _usage_id(*values) -> str:
    return usage_record_id(dict(zip(USAGE_COLUMNS, values)), prefix="")


_NUMBERS = ("cost", "tokens_input", "tokens_output")


def _content(alias: str) -> str:
    """The usage content columns of the row `alias`, as an SQL list."""
    return ", ".join(f"{alias}.{q(c)}" for c in USAGE_COLUMNS)


def _texty(alias: str) -> str:
    """SQL: the usage row `alias` holds its cost or a token count as text (the key parses it)."""
    return "(" + " OR ".join(f"typeof({alias}.{q(c)}) = 'text'" for c in _NUMBERS) + ")"


def _candidate_table(conn, name: str, select: str, schema: str = "temp") -> None:
    """A table of usage rows (the content columns and `texty`), indexed for `_has_candidate`."""
    conn.execute(f"CREATE TABLE {schema}.{name} AS SELECT *, {_texty('r')} AS texty FROM ({select}) AS r")
    conn.execute(f"CREATE INDEX {schema}.{name}_exact ON {name} (conversation_id, {', '.join(_NUMBERS)})")
    conn.execute(f"CREATE INDEX {schema}.{name}_texty ON {name} (conversation_id) WHERE texty = 1")


def _has_candidate(conn, other: str, row: str) -> str:
    """SQL: `other` (schema.table) holds a row that may equal `row` by content: the same
    conversation_id (the key compares it verbatim too) and the same cost and tokens, unless
    either side holds one of them as text (which the key would parse).

    The probe for text numbers in `other` is left out when it holds none (nearly always: a
    million records' probes of the heavy install, 0.2 s of 1.4 s)."""
    conversation = f"o.conversation_id IS {row}.conversation_id"
    exact = " AND ".join([conversation] + [f"o.{q(c)} IS {row}.{q(c)}" for c in _NUMBERS])
    probes = [f"EXISTS (SELECT 1 FROM {other} AS o WHERE {exact})"]
    if conn.execute(f"SELECT 1 FROM {other} WHERE texty = 1 LIMIT 1").fetchone():
        probes.append(f"EXISTS (SELECT 1 FROM {other} AS o WHERE o.texty = 1 AND {conversation})")
    probes.append(f"({_texty(row)} AND EXISTS (SELECT 1 FROM {other} AS o WHERE {conversation}))")
    return "(" + " OR ".join(probes) + ")"


def known_usage_selects(source_columns: list[str] | None, target_rows: bool) -> list[str]:
    """The SELECTs of the usage rows a staged record may repeat: the source's (all of them:
    quarantined ones too, as the usage_records rules normalise them, read from `src`), and the
    target's own when it held some before the run (`main.usage_records`, merging)."""
    listed = ", ".join(q(c) for c in USAGE_COLUMNS)
    known = [f"SELECT {listed} FROM main.usage_records"] if target_rows else []
    if source_columns is not None:
        plan = build_plan("usage_records", target_spec()["tables"]["usage_records"], source_columns, set())
        known.insert(0, f"SELECT {_content('n')} FROM ({plan.inner_sql()}) AS n")
    return known


def list_known_usage(ctx: RunContext) -> bool:
    """temp.usage_known: the usage rows a staged record may repeat (`known_usage_selects`),
    indexed for `_has_candidate`; the rows this run loaded from the source are among the
    source's already. False, and no table, when there are none.

    Nothing writes usage_records between load.tables and the JSON load, so the list is the
    same whenever it is made in between: `transform.known_usage` makes it while the usage
    file's child is still reading; otherwise the de-duplication makes it first."""
    return list_known(ctx.conn, known_usage_selects(ctx.source_columns.get("usage_records"),
                                                    bool(ctx.target_rows_before.get("usage_records"))))


def list_known(conn, selects: list[str], schema: str = "temp") -> bool:
    """`schema`.usage_known from `selects` (`known_usage_selects`); False, and no table, when none."""
    conn.execute(f"DROP TABLE IF EXISTS {schema}.usage_known")
    if selects:
        _candidate_table(conn, "usage_known", " UNION ALL ".join(selects), schema)
    return bool(selects)


def _drop_usage_duplicates(ctx: RunContext) -> int:
    """Remove staged usage records equal to a usage row the source database (or the target)
    holds; returns how many. The usage file's child has done it when it was done reading
    before the pipeline got here (hive_etl/extract/usage_file.py: `_ChildDedup`)."""
    if ctx.usage_duplicates is not None:
        return ctx.usage_duplicates
    if "usage_known" not in table_names(ctx.conn, "temp") and not list_known_usage(ctx):
        return 0
    removed = drop_usage_duplicates(ctx.conn, "json")
    ctx.conn.execute("DROP TABLE temp.usage_known")
    return removed


def drop_usage_duplicates(conn, staged: str, known: str = "temp") -> int:
    """Remove from `staged`.usage_records the records equal to a row of `known`.usage_known
    (left to whoever listed it); returns how many.

    Equality is `usage_content_key`, computed in Python (`hive_usage_id`), so it is computed
    only for candidates, found in plain SQL over indexes (`_has_candidate`): a million records
    cost a few index probes each, into the known rows (one indexed temp table); only the
    candidates on either side cost a Python call."""
    scratch = ("usage_candidates", "usage_known_keys")
    for name in scratch:
        conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
    _candidate_table(conn, "usage_candidates", f"SELECT s.id, {_content('s')} FROM {staged}.usage_records AS s "
                                               f"WHERE {_has_candidate(conn, f'{known}.usage_known', 's')}")
    conn.execute("CREATE TEMP TABLE usage_known_keys (key TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.execute(f"INSERT OR IGNORE INTO temp.usage_known_keys SELECT hive_usage_id({_content('k')}) "
                 f"FROM {known}.usage_known AS k WHERE {_has_candidate(conn, 'temp.usage_candidates', 'k')}")
    removed = conn.execute(
        f"DELETE FROM {staged}.usage_records WHERE id IN (SELECT c.id FROM temp.usage_candidates AS c "
        f"WHERE hive_usage_id({_content('c')}) IN (SELECT key FROM temp.usage_known_keys))"
    ).rowcount
    for name in scratch:
        conn.execute(f"DROP TABLE temp.{name}")
    return removed


def register_usage_id(conn) -> None:
    """hive_usage_id(user_id, conversation_id, ...): a usage row's content key, for SQL."""
    conn.create_function("hive_usage_id", len(USAGE_COLUMNS), _usage_id, deterministic=True)


def _derive_license(ctx: RunContext) -> None:
    """A licenses row from users.license_key and the subscription cache, when license.json is absent."""
    cache, conn = ctx.subscription_cache, ctx.conn
    if not cache or _source_of(ctx, "licenses"):
        return
    user = conn.execute("SELECT license_key, email FROM main.users WHERE id = ? AND license_key IS NOT NULL",
                        (cache.get("user_id"),)).fetchone()
    if user is None:
        ctx.notes.append("licenses: no license.json, and no user with a license_key matches subscription_cache.json")
        return
    _create_staging(ctx.conn, "licenses", schema="json")
    conn.execute(
        "INSERT INTO json.licenses (key, tier, daily_limit, features, user_id, email, expires_at, validated_at, "
        f"_json_path, {ROW_NUMBER}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '$', 1)",
        (user[0], cache.get("tier"), cache.get("daily_limit"), cache.get("features"), cache.get("user_id"),
         cache.get("email") or user[1], cache.get("expires_at"), cache.get("cached_at")))
    ctx.sources[DERIVED_LICENSE] = SourceCounts(path=DERIVED_LICENSE, table="licenses", records=1)


def prepare(ctx: RunContext) -> None:
    """On the build connection: the usage-identity function, and `temp.subscription_cache`
    (key = user id, tier, email), which the users rules of pipelines/tables.yaml read:
    the cache's tier overrides subscription_tier when it is a known tier, and its email
    fills a missing one unless another user has it."""
    conn = ctx.conn
    register_usage_id(conn)
    conn.execute("CREATE TEMP TABLE subscription_cache (key TEXT PRIMARY KEY, tier TEXT, email TEXT)")
    cache = ctx.subscription_cache
    if not cache or not cache.get("user_id"):
        return
    tier = (cache.get("tier") or "").strip().lower()
    if tier not in subscription_tiers():
        ctx.notes.append(f"subscription_cache.json: unknown tier {cache.get('tier')!r}; subscription_tier not overridden")
        tier = None
    email = cache.get("email")
    if email and "users" in ctx.source_columns and "email" in ctx.source_columns["users"] and conn.execute(
            "SELECT 1 FROM src.users WHERE email = ? AND id IS NOT ?", (email, cache["user_id"])).fetchone():
        ctx.notes.append(f"subscription_cache.json: email {email!r} belongs to another user; not applied")
        email = None
    conn.execute("INSERT INTO temp.subscription_cache VALUES (?, ?, ?)", (cache["user_id"], tier, email))


def _already_held_sql(table: str, column: str | None) -> str | None:
    """skip_sql for a file whose records load only where the target holds no row with their
    `column` value yet (pipelines/legacy_json.yaml `only_new`): the others repeat what the
    database holds (counted as duplicates, archived)."""
    if column is None:
        return None
    c = q(column)
    return (f"(SELECT {sql_text(column + ' ')} || quote(s.{c}) || {sql_text(f' already has a {table} row')} "
            f"WHERE EXISTS (SELECT 1 FROM main.{q(table)} AS e WHERE e.{c} = s.{c}))")


def _source_of(ctx: RunContext, table: str) -> str | None:
    """The file whose records are staged for `table` (each staged table has one)."""
    return next((name for name, s in sorted(ctx.sources.items()) if s.table == table), None)


def load_legacy_json(ctx: RunContext) -> None:
    if ctx.json_path is None:
        return
    spec, totals, existing = target_spec()["tables"], totals_rule(), set(ctx.target_rows_before)
    _derive_license(ctx)
    staged = [t for t in load_order() if _source_of(ctx, t)]
    bar = ctx.bar("load.json", sum(row_count(ctx.conn, "json", t) for t in staged) if ctx.progress else 0)
    bar.begin("usage de-duplication")
    content_duplicates = _drop_usage_duplicates(ctx) if _source_of(ctx, "usage_records") else 0
    bar.update(content_duplicates)
    for table in staged:
        name = _source_of(ctx, table)
        source, counts = ctx.sources[name], ctx.counts(table)
        # Records that never reached the load still count in the table's reconciliation.
        early = source.repeated_in_file + (content_duplicates if table == "usage_records" else 0)
        source.duplicates += early - source.repeated_in_file
        counts.read += source.quarantined + early
        counts.quarantined += source.quarantined
        counts.duplicates += early
        skip = _already_held_sql(table, (file_layout(name) or {}).get("only_new"))
        columns = [r[1] for r in ctx.conn.execute(f"PRAGMA json.table_info({q(table)})") if r[1] != ROW_NUMBER]
        plan = build_plan(table, spec[table], columns, existing, skip_sql=skip, source_keys=["_json_path"],
                          natural_key=merge_rule()["natural_keys"].get(table), source_schema="json", label=name,
                          skip_counts_as="duplicates" if skip else "merged", normalised=reader_kinds(name),
                          row_number=ROW_NUMBER)
        step = counts.as_dict()
        if table == totals.get("table"):
            load_conserving_totals(ctx, plan, totals["columns"], bar)
        else:
            load_table(ctx, plan, bar)
        source.loaded += counts.inserted - step["inserted"]
        source.merged += counts.merged - step["merged"]
        source.duplicates += counts.duplicates - step["duplicates"]
        source.quarantined += counts.quarantined - step["quarantined"]
    bar.close()
