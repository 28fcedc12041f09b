"""report.html: the run's account as one self-contained page, rendered from the report dict.

The page works offline and alone: inline CSS, charts drawn here as inline SVG, no fonts,
images or scripts fetched from anywhere (a Content-Security-Policy says so to the browser).
One tiny inline script, allowed by its hash, makes the data tables sortable by a click on a
header; the page reads the same without it. Every string from the report is HTML-escaped.

Sections (stable ids, for people and tests): `summary`, `reconciliation` (the table is
`reconciliation-table`, the chart `chart-rows`), `totals` (the chart `chart-daily-cost`, or
`daily-cost-absent`), `models`, `expectations` (the post-load checks are `checks`),
`quarantine`, `drift`, `notes`, `files`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from datetime import date, timedelta
from pathlib import Path

from .markdown import (
    MERGE_TOTALS_IDENTITY,
    SOURCE_COLUMNS,
    credit_values,
    source_rows,
    RESOLUTION_MEANING,
    ROW_PREVIEW_CHARS,
    SAMPLE_ROWS,
    TABLE_COLUMNS,
    TOTALS_IDENTITY,
    close_enough,
    count_by,
    conflict_columns,
    conflict_groups,
    daily_cost,
    check_counts,
    drift_is_empty,
    expectation_result,
    duration_text,
    expectation_groups,
    fmt_cost,
    fmt_int,
    fmt_measure,
    fmt_value,
    id_text,
    key_text,
    model_groups,
    pk_text,
    quarantine_samples,
    restore_command,
    tally,
    tally_text,
    table_rows,
    total_rows,
    truncate,
    yes_no,
)

SOURCE_COLOUR = "#8a94a6"   # slate grey: what was there before
SOURCE_LINE_COLOUR = "#aeb8c6"  # the same grey, lighter: a wide line under the target's
TARGET_COLOUR = "#2b67b1"   # blue: what the target holds now
DIFF_COLOUR = "#c2410c"     # orange-red: where the two differ
PLAIN_GROUPS = {"matched", "kept", "renumbered", "catalog"}  # model groups shown folded when long
DIFF_ROWS_SHOWN = 20
# The source line is drawn wide and light, the target line thin and dark on top of it: where
# the two agree the target runs inside the source, where they part both are visible.
LINE_WIDTHS = {"line-source": 5, "line-target": 1.5}


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# ----------------------------------------------------------------------------- page furniture

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9dee4; --soft:#f4f6f8; --ok:#1d7a46; --ok-bg:#e3f4ea;
        --bad:#b42318; --bad-bg:#fde8e6; --warn:#9a5b00; --warn-bg:#fff4de; --accent:#2b67b1; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff; font: 15px/1.5 system-ui, -apple-system, "Segoe UI",
       Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans", "DejaVu Sans", sans-serif; }
.page { max-width: 1180px; margin: 0 auto; padding: 28px 32px 64px; }
header.top { border-bottom: 2px solid var(--ink); padding-bottom: 14px; margin-bottom: 8px; }
h1 { font-size: 26px; margin: 0 0 4px; display: flex; align-items: center; gap: 14px; flex-wrap: wrap; }
h2 { font-size: 20px; margin: 40px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 8px; }
p { margin: 6px 0 10px; }
.meta, .caption, .muted { color: var(--muted); }
.caption { font-size: 13px; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace;
              font-size: 13px; }
code { background: var(--soft); padding: 1px 4px; border-radius: 3px; overflow-wrap: break-word; }
.scroll { overflow-x: auto; }
nav.toc { position: sticky; top: 0; z-index: 2; background: rgba(255,255,255,.96); border-bottom: 1px solid var(--line);
          padding: 8px 0; font-size: 14px; }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 16px; white-space: nowrap; }
nav.toc a:hover { text-decoration: underline; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 13px; font-weight: 600;
         line-height: 20px; white-space: nowrap; border: 1px solid transparent; }
.badge.ok { color: var(--ok); background: var(--ok-bg); border-color: #b7e0c6; }
.badge.bad { color: var(--bad); background: var(--bad-bg); border-color: #f5c2bd; }
.badge.warn { color: var(--warn); background: var(--warn-bg); border-color: #f0d49b; }
.badge.neutral { color: var(--muted); background: var(--soft); border-color: var(--line); }
h1 .badge { font-size: 15px; padding: 2px 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 18px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; background: #fff; }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .sub { font-size: 12px; color: var(--muted); }
.card.bad { border-color: #f5c2bd; background: var(--bad-bg); }
.card.warn { border-color: #f0d49b; background: var(--warn-bg); }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 14px; }
table.data { width: 100%; }
table.data th, table.data td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
table.data thead th { background: var(--soft); border-bottom: 2px solid #c5ccd4; font-weight: 600; white-space: nowrap; }
table.data tbody tr:nth-child(even) { background: #fafbfc; }
table.data tbody tr:hover { background: #eef4fb; }
table.data tfoot td { border-top: 2px solid var(--ink); border-bottom: none; font-weight: 700; }
table.sortable thead th { cursor: pointer; }
table.sortable thead th[aria-sort=ascending]::after { content: " \\25B2"; font-size: 10px; }
table.sortable thead th[aria-sort=descending]::after { content: " \\25BC"; font-size: 10px; }
td.num, th.num { text-align: right !important; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.zero { color: #a7b0ba; }
td.warn { color: var(--warn); font-weight: 600; }
tr.bad td { background: var(--bad-bg); }
table.facts th { text-align: left; padding: 4px 18px 4px 0; color: var(--muted); font-weight: 500; vertical-align: top; white-space: nowrap; }
table.facts td { padding: 4px 0; }
table.compact { width: auto; min-width: 50%; }
table.quarantine-sample { table-layout: fixed; }
table.quarantine-sample td { overflow-wrap: anywhere; }
table.quarantine-sample col.c-rowid { width: 76px; } table.quarantine-sample col.c-key { width: 24%; }
table.quarantine-sample col.c-reason { width: 34%; }
.okmark { color: var(--ok); font-weight: 700; }
details > summary { cursor: pointer; }
details.group { border: 1px solid var(--line); border-radius: 6px; padding: 4px 12px; margin: 10px 0; }
details.group > summary { font-weight: 600; padding: 4px 0; }
details.group[open] > summary { border-bottom: 1px solid var(--line); margin-bottom: 4px; }
details.row > summary { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace;
                        font-size: 12px; color: var(--muted); }
pre { background: var(--soft); padding: 8px 10px; border-radius: 4px; font-size: 12px; white-space: pre-wrap;
      word-break: break-all; margin: 6px 0; }
figure { margin: 14px 0 20px; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 4px; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg.chart text { font-family: inherit; fill: var(--ink); }
svg.chart .axis-label, svg.chart .tick-label { fill: var(--muted); font-size: 11px; }
svg.chart .value-label { fill: #3e4c59; font-size: 10.5px; }
svg.chart .grid { stroke: #e6e9ee; stroke-width: 1; }
svg.chart .baseline { stroke: #9aa5b1; stroke-width: 1; }
.absent { padding: 10px 14px; border: 1px dashed #c5ccd4; border-radius: 6px; color: var(--muted); background: #fbfcfd; }
ul.plain { margin: 6px 0; padding-left: 20px; }
footer { margin-top: 48px; padding-top: 10px; border-top: 1px solid var(--line); font-size: 12px; color: var(--muted); }
@media print { nav.toc { position: static; } h2 { break-after: avoid; } }
"""

# Sorts a table.sortable by the clicked header: numbers by data-v, text otherwise. The page
# reads the same without it.
SORT_SCRIPT = (
    "document.querySelectorAll('table.sortable thead th').forEach(function(th){"
    "th.tabIndex=0;th.title='Sort by this column';"
    "function go(){var t=th.closest('table'),b=t.tBodies[0],i=Array.prototype.indexOf.call(th.parentNode.children,th),"
    "up=th.getAttribute('aria-sort')!=='ascending';"
    "t.querySelectorAll('thead th').forEach(function(h){h.removeAttribute('aria-sort');});"
    "th.setAttribute('aria-sort',up?'ascending':'descending');"
    "var rows=Array.prototype.slice.call(b.rows);"
    "rows.sort(function(r,s){var x=r.cells[i],y=s.cells[i];"
    "var a=x.hasAttribute('data-v')?x.getAttribute('data-v'):x.textContent.trim(),"
    "c=y.hasAttribute('data-v')?y.getAttribute('data-v'):y.textContent.trim();"
    "var p=parseFloat(a),q=parseFloat(c),d=(x.hasAttribute('data-v')&&!isNaN(p)&&!isNaN(q))?p-q:a.localeCompare(c);"
    "return up?d:-d;});rows.forEach(function(r){b.appendChild(r);});}"
    "th.addEventListener('click',go);"
    "th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();go();}});});"
)
SCRIPT_HASH = base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{SCRIPT_HASH}'; "
       "base-uri 'none'; form-action 'none'")

SECTIONS = [("summary", "Summary"), ("reconciliation", "Reconciliation"), ("sources", "JSON files"), ("totals", "Cost and tokens"),
            ("conflicts", "Conflicts"), ("models", "Model ids"), ("expectations", "Expectations and checks"), ("quarantine", "Quarantine"),
            ("drift", "Drift"), ("notes", "Notes"), ("files", "Files")]


def _badge(text, kind: str) -> str:
    return f'<span class="badge {kind}">{esc(text)}</span>'


def _status(ok) -> str:
    if ok is None:
        return _badge("not run", "neutral")
    return _badge("pass", "ok") if ok else _badge("FAIL", "bad")


def _tally_badge(results: list) -> str:
    _, failed, _ = tally(results)
    return _badge(tally_text(results), "bad" if failed else "ok")


def _balanced(ok: bool) -> str:
    return '<span class="okmark" title="balanced">✓ yes</span>' if ok else _badge("NO", "bad")


def _num_td(value, formatter=fmt_int, extra: str = "") -> str:
    classes = ["num"]
    if value == 0:
        classes.append("zero")
    if extra:
        classes.append(extra)
    raw = value if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return f'<td class="{" ".join(classes)}" data-v="{esc(raw)}">{esc(formatter(value))}</td>'


def _code(text) -> str:
    return f"<code>{esc(text)}</code>" if text not in (None, "") else '<span class="muted">–</span>'


def _table(headers: list[tuple[str, str]], body: list[str], *, table_id: str = "", classes: str = "data",
           foot: str = "", cols: list[str] | None = None) -> str:
    """headers: (label, class); body: ready-made <tr> strings; cols: classes of a <colgroup>."""
    attrs = f' id="{esc(table_id)}"' if table_id else ""
    colgroup = "<colgroup>" + "".join(f'<col class="{esc(c)}">' for c in cols) + "</colgroup>" if cols else ""
    head = "".join(f'<th class="{esc(cls)}" scope="col">{esc(label)}</th>' if cls else f'<th scope="col">{esc(label)}</th>'
                   for label, cls in headers)
    parts = [f'<div class="scroll"><table{attrs} class="{esc(classes)}">{colgroup}<thead><tr>{head}</tr></thead><tbody>',
             *body, "</tbody>"]
    if foot:
        parts.append(f"<tfoot>{foot}</tfoot>")
    parts.append("</table></div>")
    return "".join(parts)


# ----------------------------------------------------------------------------- charts


def nice_ticks(top: float, count: int = 5) -> tuple[list[float], int]:
    """Round ticks from 0 covering `top`, and the decimals their labels need."""
    if not (top > 0 and math.isfinite(top)):
        return [0.0, 1.0], 0
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        step = multiple * magnitude
        if step >= raw:
            break
    steps = math.ceil(top / step - 1e-9)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if multiple == 2.5 and magnitude <= 1 else 0)
    return [i * step for i in range(steps + 1)], decimals


def _fmt_tick(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}"


def _legend(x: float, y: float, items: list[tuple[str, str, str]]) -> str:
    """items: (css class, colour, label); drawn left to right."""
    out, cursor = [], x
    for cls, colour, label in items:
        if cls.startswith("line"):
            width = LINE_WIDTHS.get(cls, 2)
            out.append(f'<line class="legend-{esc(cls)}" x1="{cursor:.1f}" y1="{y - 4:.1f}" x2="{cursor + 22:.1f}" '
                       f'y2="{y - 4:.1f}" stroke="{colour}" stroke-width="{width}" stroke-linecap="round"/>')
            cursor += 28
        elif cls.startswith("marker"):
            out.append(f'<circle class="legend-{esc(cls)}" cx="{cursor + 6:.1f}" cy="{y - 4:.1f}" r="4.5" fill="none" '
                       f'stroke="{colour}" stroke-width="2"/>')
            cursor += 18
        else:
            out.append(f'<rect class="legend-{esc(cls)}" x="{cursor:.1f}" y="{y - 10:.1f}" width="12" height="12" '
                       f'rx="2" fill="{colour}"/>')
            cursor += 18
        out.append(f'<text x="{cursor:.1f}" y="{y:.1f}" font-size="12.5">{esc(label)}</text>')
        cursor += 7.2 * len(label) + 26
    return "".join(out)


def rows_chart(report: dict) -> str:
    """Horizontal grouped bars: per table, rows read from the source vs rows in the target."""
    rows, _ = table_rows(report)
    if not rows:
        return '<p class="absent" id="chart-rows-absent">No tables, so no chart.</p>'
    label_width = min(260, max(120, 7.4 * max(len(r.name) for r in rows) + 16))
    width, right, top, bar, gap, band = 1000, 70, 52, 9, 1, 26
    plot = width - label_width - right
    height = top + band * len(rows) + 30
    largest = max(max(r.counts["read"], r.target) for r in rows)
    ticks, decimals = nice_ticks(largest or 1)
    scale = plot / ticks[-1]
    x0 = label_width
    parts = [f'<svg id="chart-rows" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-labelledby="chart-rows-title">',
             '<title id="chart-rows-title">Rows per table: read from the source vs held by the target</title>',
             _legend(x0, 18, [("bar-source", SOURCE_COLOUR, "source: rows read"),
                              ("bar-target", TARGET_COLOUR, "target: inserted + merged + created")])]
    for tick in ticks:
        x = x0 + tick * scale
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 26}"/>')
        for y in (top - 12, height - 12):
            parts.append(f'<text class="tick-label" x="{x:.1f}" y="{y}" text-anchor="middle">{esc(_fmt_tick(tick, decimals))}</text>')
    for index, row in enumerate(rows):
        y = top + index * band + (band - 2 * bar - gap) / 2
        flag = "" if row.counts["read"] == row.target else " differs"
        parts.append(f'<g class="table-group{flag}" data-table="{esc(row.name)}">')
        parts.append(f'<text class="row-label" x="{x0 - 8}" y="{y + bar + 4:.1f}" text-anchor="end" font-size="12.5">'
                     f'{esc(row.name)}</text>')
        for offset, cls, colour, value, what in ((0, "bar-source", SOURCE_COLOUR, row.counts["read"], "source, read"),
                                                 (bar + gap, "bar-target", TARGET_COLOUR, row.target,
                                                  "target, inserted + merged + created")):
            w = max(1.5, value * scale) if value > 0 else 0.0   # a row or two still shows
            parts.append(f'<rect class="bar {cls}" x="{x0}" y="{y + offset:.1f}" width="{w:.1f}" height="{bar}" '
                         f'fill="{colour}" data-value="{esc(value)}"><title>{esc(row.name)}: {esc(fmt_int(value))} '
                         f'({esc(what)})</title></rect>')
            parts.append(f'<text class="value-label" x="{x0 + w + 4:.1f}" y="{y + offset + bar - 1:.1f}">'
                         f'{esc(fmt_int(value))}</text>')
        parts.append("</g>")
    parts.append(f'<line class="baseline" x1="{x0}" y1="{top - 8}" x2="{x0}" y2="{height - 26}"/>')
    parts.append("</svg>")
    return "".join(parts)


def daily_points(days: list[tuple[date, float, float]]) -> list[tuple[date, float, float]]:
    """The report's days with the days between them filled with 0 (a day without usage cost nothing)."""
    if not days:
        return []
    first, last = days[0][0], days[-1][0]
    if (last - first).days > 3660:      # a decade or more: draw only the days there are
        return list(days)
    known = {d: (s, t) for d, s, t in days}
    return [(d, *known.get(d, (0.0, 0.0))) for d in (first + timedelta(days=i) for i in range((last - first).days + 1))]


def _date_ticks(first: date, last: date) -> list[date]:
    span = (last - first).days
    if span <= 0:
        return [first]
    if span <= 70:
        step = max(1, math.ceil(span / 8))
        return [first + timedelta(days=i) for i in range(0, span + 1, step)]
    months = []
    year, month = first.year, first.month
    while True:
        start = date(year, month, 1)
        if start > last:
            break
        if start >= first:
            months.append(start)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    every = max(1, math.ceil(len(months) / 10))
    return months[::every] or [first]


def daily_cost_chart(points: list[tuple[date, float, float]]) -> str:
    """Two lines, cost per UTC day in the source and in the target; days that differ marked."""
    width, height, left, right, top, bottom = 1000, 340, 78, 24, 44, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    first, last = points[0][0], points[-1][0]
    span = max(1, (last - first).days)
    largest = max(max(s, t) for _, s, t in points)
    ticks, decimals = nice_ticks(largest or 1)
    y_scale = plot_h / ticks[-1]

    def x_of(day: date) -> float:
        return left + (plot_w / 2 if first == last else (day - first).days / span * plot_w)

    def y_of(value: float) -> float:
        return top + plot_h - value * y_scale

    parts = [f'<svg id="chart-daily-cost" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-labelledby="chart-daily-cost-title">',
             '<title id="chart-daily-cost-title">Cost per UTC day, source vs target</title>',
             _legend(left, 18, [("line-source", SOURCE_LINE_COLOUR, "source"), ("line-target", TARGET_COLOUR, "target"),
                                ("marker-diff", DIFF_COLOUR, "day where they differ")])]
    for tick in ticks:
        y = y_of(tick)
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick-label" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{esc(_fmt_tick(tick, decimals))}</text>')
    for day in _date_ticks(first, last):
        x = x_of(day)
        label = day.strftime("%Y-%m") if span > 70 else day.isoformat()
        anchor = "end" if x > width - right - 36 else "start" if x < left + 36 else "middle"
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}"/>')
        parts.append(f'<text class="tick-label" x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="{anchor}">{esc(label)}</text>')
    parts.append(f'<line class="baseline" x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}"/>')
    parts.append(f'<text class="axis-label" x="{left - 8}" y="{top - 14}" text-anchor="end">cost</text>')
    parts.append(f'<text class="axis-label" x="{width - right}" y="{height - 6}" text-anchor="end">UTC day</text>')
    for cls, colour, index, opacity in (("line-source", SOURCE_LINE_COLOUR, 1, 0.9), ("line-target", TARGET_COLOUR, 2, 1)):
        coords = " ".join(f"{x_of(p[0]):.1f},{y_of(p[index]):.1f}" for p in points)
        if len(points) == 1:
            parts.append(f'<circle class="point {cls}" cx="{x_of(first):.1f}" cy="{y_of(points[0][index]):.1f}" r="4" fill="{colour}"/>')
        parts.append(f'<polyline class="line {cls}" points="{coords}" fill="none" stroke="{colour}" '
                     f'stroke-width="{LINE_WIDTHS[cls]}" stroke-opacity="{opacity}" stroke-linejoin="round"/>')
    for day, source, target in points:
        if not close_enough(source, target):
            parts.append(f'<circle class="marker-diff" cx="{x_of(day):.1f}" cy="{y_of(max(source, target)):.1f}" r="4.5" '
                         f'fill="none" stroke="{DIFF_COLOUR}" stroke-width="2"><title>{esc(day.isoformat())}: source '
                         f'{esc(fmt_cost(source))}, target {esc(fmt_cost(target))}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


# ----------------------------------------------------------------------------- sections


def _summary(report: dict) -> str:
    source = report.get("source") or {}
    target = report.get("target") or {}
    rows, totals = table_rows(report)
    passed, failed, not_run = check_counts(report)
    checked = passed + failed + not_run
    cost = (report.get("totals") or {}).get("cost") or {}
    in_target = sum(r.target for r in rows)
    cards = [
        ("Rows read", fmt_int(totals["read"]), f"from {len(rows)} tables", ""),
        ("Rows in target", fmt_int(in_target), "inserted + merged + created", ""),
        ("Quarantined", fmt_int(totals["quarantined"]), "rows, see below" if totals["quarantined"] else "rows",
         "warn" if totals["quarantined"] else ""),
    ]
    if cost:
        cards.append(("Cost in the source", fmt_cost(cost.get("source")),
                      f"target {fmt_cost(cost.get('target'))} · quarantined {fmt_cost(cost.get('quarantined'))}", ""))
    if checked:
        sub_text = f"{failed} FAILED" if failed else "passed" + (f", {not_run} not run" if not_run else "")
        cards.append(("Checks", f"{passed} / {checked}", sub_text, "bad" if failed else ""))
    card_html = "".join(
        f'<div class="card {cls}"><div class="label">{esc(label)}</div><div class="value">{esc(value)}</div>'
        f'<div class="sub">{esc(sub)}</div></div>' for label, value, sub, cls in cards)
    facts = [
        ("Outcome", _outcome_badge(report.get("outcome"))),
        ("Source", f"{_code(source.get('path'))} <span class=\"muted\">unchanged during the run: "
                   f"{esc(yes_no(source.get('bytes_unchanged')))}</span>"),
        ("Target", f"{_code(target.get('path'))} <span class=\"muted\">swapped in: {esc(yes_no(target.get('swapped_in')))}</span>"),
        ("Backup", _code(target.get("backup")) if target.get("backup")
         else '<span class="muted">none (the original was not replaced)</span>'),
    ]
    command = restore_command(report)
    if command:
        facts.append(("To undo", f'<code id="restore-command">{esc(command)}</code>'))
    facts.append(("Run", esc(f"{report.get('started_at', '–')} → {report.get('finished_at', '–')}")
                  + (f' <span class="muted">({esc(duration_text(report))})</span>' if duration_text(report) else "")))
    fact_rows = "".join(f'<tr><th scope="row">{esc(k)}</th><td>{v}</td></tr>' for k, v in facts)
    return (f'<section id="summary"><h2>Summary</h2><div class="cards">{card_html}</div>'
            f'<table class="facts"><tbody>{fact_rows}</tbody></table></section>')


def _outcome_badge(outcome, element_id: str = "") -> str:
    kind = {"migrated": "ok", "checks_failed": "bad", "dry_run": "neutral"}.get(outcome, "warn")
    attrs = f' id="{esc(element_id)}"' if element_id else ""
    return f'<span class="badge {kind} outcome"{attrs}>{esc(outcome or "unknown")}</span>'


def _reconciliation(report: dict) -> str:
    rows, totals = table_rows(report)
    intro = ("<p>Per table: <b>read = inserted + merged + duplicates + quarantined</b>. <i>created</i> counts rows "
             "the tool made itself (placeholder models and providers, derived summaries); they have no source row. "
             "Click a column header to sort.</p>")
    if not rows:
        return f'<section id="reconciliation"><h2>Reconciliation</h2>{intro}<p class="absent">No tables were read.</p></section>'
    body = []
    for r in rows:
        cells = [f'<td><code>{esc(r.name)}</code></td>']
        for key in TABLE_COLUMNS:
            cells.append(_num_td(r.counts[key], extra="warn" if key == "quarantined" and r.counts[key] else ""))
        cells.append(f'<td>{_balanced(r.balanced)}</td>')
        body.append(f'<tr class="{"" if r.balanced else "bad"}" data-table="{esc(r.name)}">{"".join(cells)}</tr>')
    foot = ('<tr class="totals"><td>total</td>' + "".join(_num_td(totals[k]) for k in TABLE_COLUMNS)
            + f'<td>{_balanced(all(r.balanced for r in rows))}</td></tr>')
    table = _table([("table", "")] + [(k, "num") for k in TABLE_COLUMNS] + [("balanced", "")], body,
                   table_id="reconciliation-table", classes="data sortable reconciliation", foot=foot)
    figure = (f'<figure id="figure-rows">{rows_chart(report)}<figcaption>Rows per table. Grey: rows read from the '
              f'source. Blue: rows the target holds for that table (inserted + merged + created). A shorter blue bar '
              f'means rows were quarantined or were duplicates; a longer one, rows the tool created.</figcaption></figure>')
    return f'<section id="reconciliation"><h2>Reconciliation</h2>{intro}{table}<h3>Rows per table</h3>{figure}</section>'


def _totals(report: dict) -> str:
    totals = total_rows(report)
    merging = any(t.merging for t in totals)
    identity = MERGE_TOTALS_IDENTITY if merging else TOTALS_IDENTITY
    out = [f'<section id="totals"><h2>Cost and tokens</h2><p>Over <code>usage_records</code>: <b>{esc(identity)}</b>.'
           + (" The target already held usage before this run (a merge or a re-run)." if merging else "") + "</p>"]
    if totals:
        body = []
        for t in totals:
            fmt = (lambda v, m=t.measure: fmt_measure(m, v))
            cells = [_num_td(t.source, fmt), _num_td(t.target, fmt)]
            if merging:
                cells += [_num_td(t.target_before, fmt), _num_td(t.already_present, fmt)]
            cells.append(_num_td(t.quarantined, fmt))
            body.append(f'<tr class="{"" if t.balanced else "bad"}"><td>{esc(t.measure)}</td>{"".join(cells)}'
                        f'<td>{_balanced(t.balanced)}</td></tr>')
        extra = [("target before", "num"), ("already present", "num")] if merging else []
        out.append(_table([("measure", ""), ("source", "num"), ("target", "num"), *extra, ("quarantined", "num"),
                           ("balanced", "")], body, table_id="totals-table", classes="data compact"))
    else:
        out.append('<p class="absent">No totals in this report.</p>')
    out.append("<h3>Daily cost, before and after</h3>")
    daily = daily_cost(report)
    points = daily_points(daily.days) if daily else []
    undated = ""
    if daily and daily.undated_entries:
        undated = (f" Cost without a readable date (not drawn): source {esc(fmt_cost(daily.undated_source))}, "
                   f"target {esc(fmt_cost(daily.undated_target))}.")
    if not points:
        reason = ("the report has no <code>daily_cost</code> series" if daily is None
                  else "no entry of <code>daily_cost</code> has a readable date")
        out.append(f'<p class="absent" id="daily-cost-absent">No daily cost chart: {reason}.{undated}</p></section>')
        return "".join(out)
    source_sum = sum(p[1] for p in daily.days)
    target_sum = sum(p[2] for p in daily.days)
    differing = daily.differing
    caption = (f"Cost per UTC day from <code>usage_records</code>, {esc(points[0][0].isoformat())} to "
               f"{esc(points[-1][0].isoformat())}: source {esc(fmt_cost(source_sum))}, target {esc(fmt_cost(target_sum))}. "
               "Days without usage are drawn at 0. The thin blue target line runs inside the wide grey source "
               f"line where the two agree; a ring marks a day where they differ.{undated}")
    out.append(f'<figure id="figure-daily-cost">{daily_cost_chart(points)}<figcaption>{caption}</figcaption></figure>')
    if differing:
        out.append(f'<p><span class="badge warn">{len(differing)} day{"s differ" if len(differing) != 1 else " differs"}</span></p>')
        body = [f"<tr><td>{esc(d.isoformat())}</td>{_num_td(s, fmt_cost)}{_num_td(t, fmt_cost)}{_num_td(t - s, fmt_cost)}</tr>"
                for d, s, t in differing[:DIFF_ROWS_SHOWN]]
        out.append(_table([("day", ""), ("source", "num"), ("target", "num"), ("target − source", "num")], body,
                          table_id="daily-cost-differences", classes="data compact sortable"))
        if len(differing) > DIFF_ROWS_SHOWN:
            out.append(f'<p class="caption">… and {len(differing) - DIFF_ROWS_SHOWN} more days.</p>')
    else:
        out.append('<p><span class="badge ok">every day\'s cost is the same on both sides</span></p>')
    out.append("</section>")
    return "".join(out)


def _conflicts(report: dict) -> str:
    if "conflicts" not in report:
        return ""
    out = ['<section id="conflicts"><h2>Conflicts</h2>']
    groups = conflict_groups(report)
    if not groups:
        out.append('<p><span class="badge ok">none</span> No row was held by both sides with different values.</p></section>')
        return "".join(out)
    out.append(f"<p>Rows the target already held with other values: up to {SAMPLE_ROWS} per table, with the columns "
               'that differ. Both versions of every one are in the archive (<code>column: "(row)"</code>).</p>')
    for table, rows in groups:
        kept = ", ".join(f"{n} kept {side}" for side, n in count_by(rows, "kept"))
        body = []
        for c in rows[:SAMPLE_ROWS]:
            diffs = "".join(f"<li><code>{esc(col)}</code>: {esc(truncate(fmt_value(a), 120))} → "
                            f"{esc(truncate(fmt_value(b), 120))}</li>" for col, a, b in conflict_columns(c))
            body.append(f'<tr><td>{_code(key_text(c.get("key")))}</td><td>{esc(c.get("kept") or "–")}</td>'
                        f'<td><ul class="plain">{diffs}</ul></td></tr>')
        out.append(f'<div class="conflict-table" data-table="{esc(table)}"><h3><code>{esc(table)}</code> '
                   f'<span class="muted">{len(rows)} row{"s" if len(rows) != 1 else ""} ({esc(kept)})</span></h3>'
                   + _table([("key", ""), ("kept", ""), ("differs (source → target)", "")], body, classes="data")
                   + "</div>")
    out.append("</section>")
    return "".join(out)


def _models(report: dict) -> str:
    groups = model_groups(report)
    out = ['<section id="models"><h2>Model identifiers</h2>']
    if not groups:
        out.append('<p class="absent">No model identifiers in this report.</p></section>')
        return "".join(out)
    total = sum(len(rows) for _, rows in groups)
    out.append(f"<p>{total} source identifiers, grouped by how each was resolved.</p>")
    summary = [f'<tr><td><a href="#models-{esc(_slug(name))}">{esc(name)}</a></td>{_num_td(len(rows))}'
               f'<td class="muted">{esc(RESOLUTION_MEANING.get(name, ""))}</td></tr>' for name, rows in groups]
    out.append(_table([("resolution", ""), ("ids", "num"), ("meaning", "")], summary, table_id="models-summary",
                      classes="data compact"))
    for name, rows in groups:
        opened = " open" if name not in PLAIN_GROUPS or len(rows) <= 8 else ""
        body = [f'<tr><td>{_code(r.get("source"))}</td><td>{esc(r.get("kind") or "–")}</td>'
                f'<td class="num">{esc(id_text(r.get("source_internal_id")))}</td>'
                f'<td class="num">{esc(id_text(r.get("internal_id")))}</td><td>{_code(r.get("openrouter_id"))}</td>'
                f'<td>{esc(r.get("resolution") or "–")}</td></tr>' for r in rows]
        table = _table([("source", ""), ("kind", ""), ("source id", "num"), ("internal id", "num"),
                        ("openrouter id", ""), ("resolution", "")], body, classes="data sortable")
        out.append(f'<details class="group model-group" id="models-{esc(_slug(name))}"{opened}><summary>{esc(name)} '
                   f'<span class="muted">({len(rows)})</span></summary>{table}</details>')
    out.append("</section>")
    return "".join(out)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-") or "x"


def _expectations(report: dict) -> str:
    out = ['<section id="expectations"><h2>Expectations and checks</h2>']
    groups = expectation_groups(report)
    if "expectations" not in report:
        out.append('<p class="absent" id="expectations-absent">No expectation suites in this report.</p>')
    elif not groups:
        out.append('<p class="absent" id="expectations-absent">The expectation suites ran no expectation.</p>')
    for suite, rows in groups:
        results = [expectation_result(r) for r in rows]
        with_table = any(r.get("table") for r in rows)
        body = [f'<tr class="{"bad" if result is False else ""}"><td>{_status(result)}</td>'
                f'<td>{esc(r.get("name") or "–")}</td><td>{_code(r.get("expectation_type"))}</td>'
                + (f'<td>{_code(r.get("table"))}</td>' if with_table else "")
                + f'<td>{_code(r.get("column"))}</td><td>{esc(r.get("severity") or "–")}</td>'
                f'<td class="mono">{esc(truncate(fmt_value(r.get("observed")), 300))}</td>'
                f'<td>{esc(r.get("why") or "")}</td></tr>' for r, result in zip(rows, results)]
        headers = [("result", ""), ("expectation", ""), ("type", "")] + ([("table", "")] if with_table else []) \
            + [("column", ""), ("severity", ""), ("observed", ""), ("why", "")]
        out.append(f'<div class="suite" data-suite="{esc(suite)}"><h3>Suite <code>{esc(suite)}</code> '
                   f'{_tally_badge(results)}</h3>' + _table(headers, body, classes="data sortable expectations") + "</div>")
    checks = report.get("checks") or []
    badge = _tally_badge([bool(c.get("ok")) for c in checks]) if checks else ""
    out.append(f"<h3>Post-load checks {badge}</h3>")
    if checks:
        body = [f'<tr class="{"" if c.get("ok") else "bad"}"><td>{_status(c.get("ok"))}</td><td>{esc(c.get("name") or "–")}</td>'
                f'<td>{esc(c.get("severity") or "–")}</td><td>{esc(c.get("detail") or "")}</td></tr>' for c in checks]
        out.append(_table([("result", ""), ("check", ""), ("severity", ""), ("detail", "")], body, table_id="checks",
                          classes="data"))
    else:
        out.append('<p class="absent" id="checks">No checks ran.</p>')
    out.append("</section>")
    return "".join(out)


def _pretty_row(row_json) -> str:
    try:
        return json.dumps(json.loads(row_json), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return "" if row_json is None else str(row_json)


def _quarantine(report: dict, report_dir: Path) -> str:
    out = ['<section id="quarantine"><h2>Quarantined rows</h2>']
    samples = quarantine_samples(report, report_dir)
    if not samples:
        out.append('<p class="absent">No row was quarantined.</p></section>')
        return "".join(out)
    out.append(f"<p>Source rows that could not be loaded, with the reason: up to {SAMPLE_ROWS} per table. All of "
               "them, each with its whole row, are in the Parquet files named here. Click a row to see all of it.</p>")
    for s in samples:
        count = f"{fmt_int(s.total)} row{'s' if s.total != 1 else ''}" if s.total is not None else ""
        shown = f", first {len(s.rows)} shown" if s.total and len(s.rows) < s.total else ""
        out.append(f'<div class="quarantine-table" data-table="{esc(s.table)}"><h3><code>{esc(s.table)}</code> '
                   f'<span class="muted">{esc(count + shown)}</span></h3>'
                   f'<p class="caption">File: <a href="{esc(s.path)}">{esc(s.path)}</a></p>')
        if s.error:
            out.append(f'<p class="absent">{_badge("unreadable", "bad")} {esc(s.error)}</p></div>')
            continue
        body = [f'<tr><td class="num">{esc(id_text(r.get("source_rowid")))}</td><td>{_code(pk_text(r.get("source_pk")))}</td>'
                f'<td class="reason">{esc(r.get("reason") or "–")}</td>'
                f'<td class="row-json"><details class="row"><summary>{esc(truncate(str(r.get("row_json") or ""), ROW_PREVIEW_CHARS // 2))}'
                f'</summary><pre>{esc(_pretty_row(r.get("row_json")))}</pre></details></td></tr>' for r in s.rows]
        out.append(_table([("rowid", "num"), ("key", ""), ("reason", ""), ("row", "")], body,
                          classes="data quarantine-sample", cols=["c-rowid", "c-key", "c-reason", "c-row"]) + "</div>")
    out.append("</section>")
    return "".join(out)


def _drift(report: dict) -> str:
    out = ['<section id="drift"><h2>Schema drift</h2>']
    drift = report.get("drift")
    if not drift or drift_is_empty(drift):
        out.append('<p><span class="badge ok">none</span> The source schema is exactly the TypeScript-era schema.</p></section>')
        return "".join(out)
    out.append("<p>How the source differs from the TypeScript-era schema.</p>")
    extra_tables = drift.get("extra_tables") or []
    if extra_tables:
        body = [(f'<tr><td>{_code(t.get("table"))}</td>{_num_td(t.get("rows"))}{_num_td(t.get("values_archived"))}</tr>'
                 if isinstance(t, dict) else f'<tr><td>{_code(t)}</td><td></td><td></td></tr>') for t in extra_tables]
        out.append("<h3>Extra tables <span class=\"muted\">(their values are archived)</span></h3>")
        out.append(_table([("table", ""), ("rows", "num"), ("values archived", "num")], body, table_id="drift-extra-tables",
                          classes="data compact"))
    items = []
    for key, label in (("extra_columns", "Extra columns"), ("missing_columns", "Missing columns"),
                       ("missing_tables", "Missing tables")):
        if drift.get(key):
            items.append(f"<li><b>{esc(label)}:</b> " + ", ".join(_code(fmt_value(c)) for c in drift[key]) + "</li>")
    known = {"extra_tables", "extra_columns", "missing_columns", "missing_tables"}
    items += [f"<li><b>{esc(k)}:</b> {esc(fmt_value(drift[k]))}</li>" for k in sorted(drift) if k not in known and drift[k]]
    if items:
        out.append(f'<ul class="plain">{"".join(items)}</ul>')
    out.append("</section>")
    return "".join(out)


def _sources(report: dict) -> str:
    rows = source_rows(report)
    out = ['<section id="sources"><h2>Legacy JSON files</h2>']
    if not rows:
        return "".join(out) + '<p class="muted">No legacy JSON file was found.</p></section>'
    out.append("<p>Per file: <strong>records = loaded + merged + duplicates + quarantined + archived</strong>.</p>")
    body = [f"<tr><td>{_code(name)}</td><td>{_code(table)}</td>"
            + "".join(f'<td class="num">{esc(fmt_int(c[k]))}</td>' for k in SOURCE_COLUMNS) + "</tr>"
            for name, table, c in rows]
    out.append(_table([("file", ""), ("table", "")] + [(k, "num") for k in SOURCE_COLUMNS], body, table_id="sources-table"))
    credits = credit_values(report)
    if credits:
        out.append(f'<p>Credits found (archived, never loaded): {esc("; ".join(credits))}</p>')
    return "".join(out) + "</section>"


def _notes(report: dict) -> str:
    notes = report.get("notes") or []
    if not notes:
        return '<section id="notes"><h2>Notes</h2><p class="muted">None.</p></section>'
    items = "".join(f"<li>{esc(fmt_value(n))}</li>" for n in notes)
    return f'<section id="notes"><h2>Notes</h2><ul class="plain">{items}</ul></section>'


def _files(report: dict) -> str:
    out = ['<section id="files"><h2>Files</h2><p>Beside this page: <a href="report.json">report.json</a> '
           '(the machine-readable account) and <a href="report.md">report.md</a>.</p>']
    for kind, paths in (report.get("files") or {}).items():
        if paths:
            links = ", ".join(f'<a href="{esc(p)}">{esc(p)}</a>' for p in paths)
            out.append(f"<p><b>{esc(kind)}</b> <span class=\"muted\">({len(paths)})</span>: {links}</p>")
    out.append("</section>")
    return "".join(out)


def render_html(report: dict, report_dir: Path) -> str:
    """The whole report as one self-contained HTML page."""
    tool = report.get("tool") or {}
    outcome = report.get("outcome") or "unknown"
    nav = "".join(f'<a href="#{key}">{esc(label)}</a>' for key, label in SECTIONS
                  if key != "conflicts" or "conflicts" in report)
    meta = " · ".join(esc(x) for x in (f"{tool.get('name', 'hive-etl')} {tool.get('version', '')}".strip(),
                                        report.get("finished_at") or "") if x)
    body = "".join([
        _summary(report), _reconciliation(report), _sources(report), _totals(report), _conflicts(report), _models(report), _expectations(report),
        _quarantine(report, Path(report_dir)), _drift(report), _notes(report), _files(report),
    ])
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Hive AI migration report — {esc(outcome)}</title>"
        f"<style>{CSS}</style></head>\n"
        f'<body><div class="page"><header class="top"><h1>Hive AI migration report {_outcome_badge(outcome, "outcome")}</h1>'
        f'<div class="meta">{meta}</div></header>'
        f'<nav class="toc" aria-label="Sections">{nav}</nav><main>{body}</main>'
        f'<footer>Rendered from report.json by {esc(tool.get("name", "hive-etl"))} {esc(tool.get("version", ""))}. '
        "This page is self-contained and works offline.</footer></div>"
        f"<script>{SORT_SCRIPT}</script></body></html>\n"
    )
