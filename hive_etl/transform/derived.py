"""Tables the target derives instead of copying: `daily_usage_summary` (contract section 3).

One row per (user, UTC date) on which the user started conversations, computed from the
conversations just loaded:
- conversation_count: conversations whose created_at falls on that UTC date;
- total_cost, total_tokens: their total_cost and input_tokens + output_tokens;
- average_response_time: mean performance_metrics.total_duration of those conversations
  that have metrics, else NULL.
Conversations without a user or a readable created_at cannot be placed and are not counted.
The id is "<user_id>:<date>", so the same data always gives the same rows.
"""

from __future__ import annotations

from ..context import RunContext
from ..transform.values import format_utc

DAILY_USAGE_SQL = """
INSERT INTO main.daily_usage_summary
    (id, user_id, date, conversation_count, total_cost, total_tokens, average_response_time, created_at, updated_at)
SELECT c.user_id || ':' || date(c.created_at), c.user_id, date(c.created_at),
       count(*), coalesce(sum(c.total_cost), 0.0),
       coalesce(sum(coalesce(c.input_tokens, 0) + coalesce(c.output_tokens, 0)), 0),
       avg(pm.duration), :now, :now
FROM main.conversations AS c
LEFT JOIN (SELECT conversation_id, avg(total_duration) AS duration FROM main.performance_metrics
           WHERE conversation_id IS NOT NULL GROUP BY conversation_id) AS pm ON pm.conversation_id = c.id
WHERE c.user_id IS NOT NULL AND date(c.created_at) IS NOT NULL
GROUP BY c.user_id, date(c.created_at)
ORDER BY c.user_id, date(c.created_at)
"""


def derive_daily_usage(ctx: RunContext) -> None:
    before = ctx.conn.execute("SELECT count(*) FROM main.daily_usage_summary").fetchone()[0]
    ctx.conn.execute(DAILY_USAGE_SQL, {"now": format_utc(ctx.now)})
    after = ctx.conn.execute("SELECT count(*) FROM main.daily_usage_summary").fetchone()[0]
    ctx.counts("daily_usage_summary").created += after - before
    ctx.loaded.add("daily_usage_summary")
