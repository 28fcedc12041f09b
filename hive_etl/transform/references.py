"""Collect the model references a source holds, for the model-id transform.

Which columns name models is data (pipelines/tables.yaml: `model_text`, `model_ids`,
`model_text_pairs`); this module turns it into the distinct values found in the snapshot.
"""

from __future__ import annotations

import sqlite3

from ..rules import table_rules
from .model_ids import SourceModel, id_key
from .table_plan import legacy_model_sql, q


def text_references(conn: sqlite3.Connection, source_columns: dict[str, list[str]]) -> list[str]:
    """Every distinct text model id in the source (history, profiles, legacy split columns)."""
    found: set[str] = set()
    for table, rules in table_rules().items():
        present = set(source_columns.get(table, ()))
        if not present:
            continue
        queries = [f"SELECT DISTINCT s.{q(col)} FROM src.{q(table)} AS s" for col in (rules.get("model_text") or {}) if col in present]
        queries += [
            f"SELECT DISTINCT {legacy_model_sql(pair.get('provider'), pair['model'], present)} FROM src.{q(table)} AS s"
            for pair in rules.get("model_text_pairs") or ()
            if pair["model"] in present
        ]
        for sql in queries:
            found.update(str(v) for (v,) in conn.execute(sql) if v is not None and str(v).strip())
    return sorted(found)


def json_text_references(conn: sqlite3.Connection) -> list[str]:
    """Text model ids of the staged legacy JSON records (usage models, cost-tracking stage models)."""
    if not conn.execute("SELECT 1 FROM pragma_database_list WHERE name = 'json'").fetchone():
        return []
    tables = {r[0] for r in conn.execute("SELECT name FROM json.sqlite_master WHERE type = 'table'")}
    found: set[str] = set()
    if "usage_records" in tables:
        found.update(v for (v,) in conn.execute("SELECT DISTINCT model_used FROM json.usage_records") if v and str(v).strip())
    found.update(v for (v,) in conn.execute("SELECT model FROM json.stage_models") if v and str(v).strip())
    return sorted(found)


def target_text_references(conn: sqlite3.Connection) -> list[str]:
    """Text model ids the target already holds in columns the app sends to OpenRouter."""
    found: set[str] = set()
    for table, rules in table_rules().items():
        for col, mode in (rules.get("model_text") or {}).items():
            if mode == "canonical":
                found.update(v for (v,) in conn.execute(f"SELECT DISTINCT {q(col)} FROM main.{q(table)}") if v)
    return sorted(found)


def source_models(conn: sqlite3.Connection, columns: list[str]) -> tuple[list[SourceModel], list[str]]:
    """The source catalog rows (rowid, internal_id key, openrouter_id); rows without an id are listed apart."""
    if "openrouter_id" not in columns:
        return [], []
    key = "s.internal_id" if "internal_id" in columns else "NULL"
    rows = conn.execute(f"SELECT s.rowid, {key}, s.openrouter_id FROM src.openrouter_models AS s ORDER BY s.rowid")
    models, blank = [], []
    for rowid, internal_id, openrouter_id in rows:
        if openrouter_id is None or not str(openrouter_id).strip():
            blank.append(str(rowid))
            continue
        models.append(SourceModel(id_key(internal_id), str(openrouter_id), rowid))
    return models, blank
