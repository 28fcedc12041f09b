"""Tables the target derives instead of copying: `daily_usage_summary` (contract section 3).

One row per (user, UTC date) on which the user started conversations, computed from all
conversations in the new database (a merge counts the target's own as well):
- conversation_count: conversations whose created_at falls on that UTC date;
- total_cost, total_tokens: their total_cost and input_tokens + output_tokens;
- average_response_time: mean performance_metrics.total_duration of those conversations
  that have metrics, else NULL.
Conversations without a user or a readable created_at cannot be placed and are not counted.
A (user, date) row the target already has is updated only when a figure differs, so a
re-run over the same data changes nothing. New rows get the id "<user_id>:<date>".
"""

from __future__ import annotations

from ..context import RunContext
from ..transform.values import format_utc

DERIVED_TABLES = ("daily_usage_summary",)   # what this module writes
# What it reads: tables load.tables writes and no later stage does (hive_etl.stages.settled_tables),
# so the pipelines derive it before they await the usage file's child, not after the JSON load.
DERIVED_FROM = ("conversations", "performance_metrics")

DAILY_USAGE_SQL = """
CREATE TEMP TABLE daily_usage AS
SELECT c.user_id AS user_id, date(c.created_at) AS date, count(*) AS conversation_count,
       coalesce(sum(c.total_cost), 0.0) AS total_cost,
       coalesce(sum(coalesce(c.input_tokens, 0) + coalesce(c.output_tokens, 0)), 0) AS total_tokens,
       avg(pm.duration) AS average_response_time
FROM main.conversations AS c
LEFT JOIN (SELECT conversation_id, avg(total_duration) AS duration FROM main.performance_metrics
           WHERE conversation_id IS NOT NULL GROUP BY conversation_id) AS pm ON pm.conversation_id = c.id
WHERE c.user_id IS NOT NULL AND date(c.created_at) IS NOT NULL
GROUP BY c.user_id, date(c.created_at)
"""
FIGURES = ("conversation_count", "total_cost", "total_tokens", "average_response_time")


def derive_daily_usage(ctx: RunContext) -> None:
    conn, now = ctx.conn, format_utc(ctx.now)
    conn.execute("DROP TABLE IF EXISTS temp.daily_usage")
    conn.execute(DAILY_USAGE_SQL)
    same_day = "e.user_id = d.user_id AND e.date = d.date"
    differs = " OR ".join(f"e.{f} IS NOT d.{f}" for f in FIGURES)
    updated = conn.execute(
        f"UPDATE main.daily_usage_summary AS e SET {', '.join(f'{f} = d.{f}' for f in FIGURES)}, updated_at = :now "
        f"FROM temp.daily_usage AS d WHERE {same_day} AND ({differs})", {"now": now}
    ).rowcount
    inserted = conn.execute(
        f"INSERT INTO main.daily_usage_summary (id, user_id, date, {', '.join(FIGURES)}, created_at, updated_at) "
        f"SELECT d.user_id || ':' || d.date, d.user_id, d.date, {', '.join('d.' + f for f in FIGURES)}, :now, :now "
        f"FROM temp.daily_usage AS d WHERE NOT EXISTS (SELECT 1 FROM main.daily_usage_summary AS e WHERE {same_day}) "
        f"ORDER BY d.user_id, d.date", {"now": now}
    ).rowcount
    ctx.counts("daily_usage_summary").created += inserted
    if updated:
        ctx.notes.append(f"daily_usage_summary: {updated} existing (user, date) rows recomputed with the merged conversations")
    ctx.loaded.add("daily_usage_summary")
