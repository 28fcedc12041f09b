"""The table mapping rules (pipelines/tables.yaml), read in one place.

Code asks these functions, never the YAML's layout: which columns name models, which are
timestamps, which tiers exist, which totals are conserved.
"""

from __future__ import annotations

from .resources import pipeline_file


def _config() -> dict:
    return pipeline_file("tables.yaml")


def table_rules() -> dict[str, dict]:
    """{table: its rules} for every table the file mentions."""
    return {table: rules or {} for table, rules in (_config().get("tables") or {}).items()}


def rules_for(table: str) -> dict:
    return table_rules().get(table, {})


def is_timestamp(column: str) -> bool:
    rule = _config()["timestamps"]
    return column in rule["names"] or column.endswith(rule["suffix"])


def subscription_tiers() -> list[str]:
    return list(_config()["subscription_tiers"])


def totals_rule() -> dict:
    """{"table": ..., "columns": [...]}: the sums that must be conserved (may be empty)."""
    return _config().get("totals") or {}


def merge_rule() -> dict:
    """{"newer_by": [...], "natural_keys": {table: [...]}, "row_match_narrow": [...]}."""
    rule = _config().get("merge") or {}
    return {"newer_by": rule.get("newer_by") or [], "natural_keys": rule.get("natural_keys") or {},
            "row_match_narrow": rule.get("row_match_narrow") or []}
