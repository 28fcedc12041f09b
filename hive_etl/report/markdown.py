"""report.md: the run's account for a person, rendered from the report.json dict.

`render_markdown(report, report_dir)` reads nothing but the dict and, for the samples of
quarantined rows, `report_dir/quarantine/<table>.parquet`. Every key but `tables` is
optional (older or partial reports still render), and every value that came from the
user's database is escaped, so a hostile string cannot inject Markdown or HTML.

The helpers that shape the data (number formats, totals, model groups, quarantine samples,
the restore command) are shared with the HTML report (hive_etl/report/html.py).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath

import pyarrow.parquet as pq

TABLE_COLUMNS = ("read", "inserted", "merged", "duplicates", "quarantined", "created")
SAMPLE_ROWS = 5
ROW_PREVIEW_CHARS = 240
# Model resolutions in the order a reader wants them: the plain cases first, then the ones
# worth a look. Anything else (a resolution added later) follows, alphabetically.
RESOLUTION_ORDER = ("matched", "kept", "renumbered", "catalog", "merged", "sha1-text", "legacy text", "placeholder")
RESOLUTION_MEANING = {  # as hive_etl/transform/model_ids.py defines them
    "matched": "the canonical id is already in the target catalog: its internal id wins",
    "kept": "a new model whose own integer internal id is free in the target",
    "renumbered": "a new model whose integer internal id is taken: the next free number",
    "sha1-text": "a new model whose internal id was 40-hex text: the next free number",
    "merged": "a second source catalog row with the same canonical id as an earlier one",
    "catalog": "a text reference naming a catalog model (after canonicalisation)",
    "legacy text": "a profile's dangling model id, resolved from its legacy provider/model text",
    "placeholder": "a text reference naming nothing: a new inactive catalog row",
}
FLOAT_TOLERANCE = 1e-9
DIFF_ROWS_SHOWN = 20


# ----------------------------------------------------------------------------- numbers

def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fmt_int(value) -> str:
    """12345 -> '12,345'; floats that are whole numbers print as integers; None -> '–'."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer():
            return f"{int(value):,}"
        return f"{value:,.2f}"
    if _is_number(value):
        return f"{value:,}"
    return str(value)


def fmt_cost(value) -> str:
    """Costs to six decimals (a millionth of a dollar), thousands separated."""
    if value is None:
        return "–"
    if not _is_number(value):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    text = f"{value:,.6f}"
    return "0.000000" if text == "-0.000000" else text


def fmt_measure(name: str, value) -> str:
    return fmt_cost(value) if "cost" in name else fmt_int(value)


def fmt_value(value) -> str:
    """Any JSON value as short text: strings as they are, the rest as compact JSON."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if _is_number(value):
        return fmt_int(value) if isinstance(value, int) or float(value).is_integer() else repr(value)
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def id_text(value) -> str:
    """An identifier as it is (no thousands separators); None -> '–'."""
    return "–" if value is None else str(value)


def close_enough(a, b) -> bool:
    if not (_is_number(a) and _is_number(b)):
        return a == b
    return abs(a - b) <= FLOAT_TOLERANCE * max(1.0, abs(a), abs(b))


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ----------------------------------------------------------------------------- the data


@dataclass
class TableRow:
    name: str
    counts: dict
    balanced: bool

    @property
    def target(self) -> int:
        """Rows the target holds for this table: inserted + merged + created."""
        return sum(int(self.counts.get(k) or 0) for k in ("inserted", "merged", "created"))


def table_rows(report: dict) -> tuple[list[TableRow], dict]:
    """The per-table reconciliation rows and their column totals."""
    rows = []
    totals = dict.fromkeys(TABLE_COLUMNS, 0)
    for name, counts in (report.get("tables") or {}).items():
        counts = {k: counts.get(k, 0) or 0 for k in TABLE_COLUMNS}
        balanced = counts["read"] == counts["inserted"] + counts["merged"] + counts["duplicates"] + counts["quarantined"]
        rows.append(TableRow(name, counts, balanced))
        for key in TABLE_COLUMNS:
            totals[key] += counts[key]
    return rows, totals


@dataclass
class TotalRow:
    """One conserved total: source = (target - target_before) + already_present + quarantined.

    For a new target `target_before` and `already_present` are 0 (or absent, in older
    reports) and the identity reads source = target + quarantined.
    """

    measure: str
    source: object
    target: object
    quarantined: object
    target_before: object = 0
    already_present: object = 0

    @property
    def merging(self) -> bool:
        return bool(self.target_before) or bool(self.already_present)

    @property
    def balanced(self) -> bool:
        terms = (self.source, self.target, self.quarantined, self.target_before, self.already_present)
        if not all(_is_number(v) for v in terms):
            return False
        return close_enough(self.source, self.target - self.target_before + self.already_present + self.quarantined)


def total_rows(report: dict) -> list[TotalRow]:
    return [TotalRow(name, t.get("source"), t.get("target"), t.get("quarantined"),
                     t.get("target_before") or 0, t.get("already_present") or 0)
            for name, t in (report.get("totals") or {}).items() if isinstance(t, dict)]


TOTALS_IDENTITY = "source = target + quarantined"
MERGE_TOTALS_IDENTITY = "source = (target − target before) + already present + quarantined"


@dataclass
class DailyCost:
    """`daily_cost` split into dated days (oldest first) and what had no readable date."""

    days: list[tuple[date, float, float]]          # (day, source, target), only days listed in the report
    undated_source: float = 0.0
    undated_target: float = 0.0
    undated_entries: int = 0

    @property
    def differing(self) -> list[tuple[date, float, float]]:
        return [d for d in self.days if not close_enough(d[1], d[2])]


def _cost(value) -> float:
    return float(value) if _is_number(value) and math.isfinite(value) else 0.0


def daily_cost(report: dict) -> DailyCost | None:
    """The report's `daily_cost`, or None when there is none. Dates that do not parse
    (the report's `undated`) are summed apart."""
    entries = report.get("daily_cost")
    if not isinstance(entries, list) or not entries:
        return None
    by_day: dict[date, list[float]] = {}
    result = DailyCost([])
    for entry in entries:
        entry = entry if isinstance(entry, dict) else {}
        try:
            day = date.fromisoformat(str(entry.get("date"))[:10])
        except ValueError:
            result.undated_entries += 1
            result.undated_source += _cost(entry.get("source"))
            result.undated_target += _cost(entry.get("target"))
            continue
        values = by_day.setdefault(day, [0.0, 0.0])
        values[0] += _cost(entry.get("source"))
        values[1] += _cost(entry.get("target"))
    result.days = [(d, *by_day[d]) for d in sorted(by_day)]
    return result


def conflict_groups(report: dict) -> list[tuple[str, list[dict]]]:
    """`conflicts` (rows both sides held with different values, when merging) by table."""
    groups: dict[str, list[dict]] = {}
    for row in report.get("conflicts") or []:
        if isinstance(row, dict):
            groups.setdefault(str(row.get("table") or "(no table)"), []).append(row)
    return list(groups.items())


def conflict_columns(conflict: dict) -> list[tuple[str, object, object]]:
    """(column, source value, target value) for every column the two versions disagree on."""
    source, target = conflict.get("source"), conflict.get("target")
    if not isinstance(source, dict) or not isinstance(target, dict):
        return [("(row)", source, target)]
    return [(c, source.get(c), target.get(c)) for c in list(dict.fromkeys([*source, *target]))
            if source.get(c) != target.get(c)]


def key_text(key) -> str:
    """A key dict as 'k=v, k2=v2'."""
    if isinstance(key, dict):
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in key.items())
    return fmt_value(key)


def resolution_base(resolution: str | None) -> str:
    """'catalog (suffix :beta)' -> 'catalog'; "legacy text 'x'" -> 'legacy text'."""
    text = (resolution or "unknown").strip()
    if text.startswith("legacy text"):
        return "legacy text"
    return re.split(r"[ (]", text, maxsplit=1)[0] or "unknown"


def model_groups(report: dict) -> list[tuple[str, list[dict]]]:
    groups: dict[str, list[dict]] = {}
    for row in report.get("models") or []:
        groups.setdefault(resolution_base(row.get("resolution")), []).append(row)
    known = [name for name in RESOLUTION_ORDER if name in groups]
    others = sorted(name for name in groups if name not in RESOLUTION_ORDER)
    return [(name, groups[name]) for name in known + others]


def expectation_groups(report: dict) -> list[tuple[str, list[dict]]]:
    """`expectations` grouped by suite, suites in first-seen order."""
    groups: dict[str, list[dict]] = {}
    for row in report.get("expectations") or []:
        groups.setdefault(str(row.get("suite") or "(no suite)"), []).append(row)
    return list(groups.items())


@dataclass
class QuarantineSample:
    table: str
    path: str                      # relative to the report folder
    total: int | None = None
    rows: list[dict] = field(default_factory=list)
    error: str | None = None


def quarantine_files(report: dict, report_dir: Path) -> list[str]:
    """The quarantine files, relative to the report folder: `files.quarantine`, else what is there."""
    files = (report.get("files") or {}).get("quarantine")
    if files is not None:
        return list(files)
    folder = Path(report_dir) / "quarantine"
    return [f"quarantine/{p.name}" for p in sorted(folder.glob("*.parquet"))] if folder.is_dir() else []


def quarantine_samples(report: dict, report_dir: Path, limit: int = SAMPLE_ROWS) -> list[QuarantineSample]:
    """Up to `limit` rows of each quarantine file, read without loading the whole file."""
    samples = []
    for relative in quarantine_files(report, report_dir):
        sample = QuarantineSample(table=PurePosixPath(relative).stem, path=relative)
        try:
            handle = pq.ParquetFile(Path(report_dir) / relative)
            sample.total = handle.metadata.num_rows
            wanted = [c for c in ("source_table", "source_rowid", "source_pk", "reason", "row_json")
                      if c in handle.schema_arrow.names]
            for batch in handle.iter_batches(batch_size=limit, columns=wanted, use_threads=False):
                sample.rows = batch.to_pylist()[:limit]
                break
            if sample.rows and sample.rows[0].get("source_table"):
                sample.table = str(sample.rows[0]["source_table"])
        except Exception as exc:  # noqa: BLE001 - a damaged sidecar must not hide the rest of the report
            sample.error = f"could not read {relative}: {type(exc).__name__}: {exc}"
        samples.append(sample)
    return samples


def pk_text(pk_json) -> str:
    """'{"id": "x"}' -> 'id=x' (several keys joined with ', ')."""
    if pk_json is None:
        return "–"
    try:
        pk = json.loads(pk_json)
    except (TypeError, ValueError):
        return str(pk_json)
    return key_text(pk)


def restore_command(report: dict) -> str | None:
    """The command that puts the original back, when the run replaced it with a backup."""
    target = report.get("target") or {}
    backup = target.get("backup")
    if not backup:
        return None
    database = Path(target.get("path") or backup)
    if database.parent.name == ".hive":
        return f"hive-etl restore --home {shlex.quote(str(database.parent.parent))} --backup {shlex.quote(str(backup))}"
    return f"HIVE_HOME={shlex.quote(str(database.parent))} hive-etl restore --backup {shlex.quote(str(backup))}"


def _parse_utc(text) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration_text(report: dict) -> str | None:
    start, end = _parse_utc(report.get("started_at")), _parse_utc(report.get("finished_at"))
    if not start or not end:
        return None
    seconds = (end - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def tally(results: list) -> tuple[int, int, int]:
    """(passed, failed, not run) of results that are True, False or None (not evaluated)."""
    return (sum(r is True for r in results), sum(r is False for r in results), sum(r is None for r in results))


def tally_text(results: list) -> str:
    passed, failed, not_run = tally(results)
    return f"{passed} of {len(results)} passed" + (f", {not_run} not run" if not_run else "")


def expectation_result(row: dict):
    """An expectation's `success`: True, False, or None when it was not evaluated."""
    value = row.get("success")
    return None if value is None else bool(value)


def check_counts(report: dict) -> tuple[int, int, int]:
    """(passed, failed, not run) over `checks` and `expectations`."""
    results = [bool(c.get("ok")) for c in report.get("checks") or []]
    results += [expectation_result(e) for e in report.get("expectations") or []]
    return tally(results)


def yes_no(value) -> str:
    return "–" if value is None else ("yes" if value else "no")


def drift_is_empty(drift: dict) -> bool:
    return not any(drift.get(k) for k in drift)


# ----------------------------------------------------------------------------- Markdown


_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|#!~&])")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md(text) -> str:
    """Text safe in a Markdown paragraph or table cell: no markup, no raw HTML, one line."""
    text = "" if text is None else str(text)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    return re.sub(r"\s*[\r\n]+\s*", " ", text)


def md_code(text, table: bool = True) -> str:
    """Text as an inline code span (no markup inside); `table`: safe in a table cell."""
    text = re.sub(r"[\r\n]+", " ", "" if text is None else str(text))
    if table:
        text = text.replace("|", "\\|")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(cell if cell != "" else " " for cell in row) + " |" for row in rows]
    return lines


def _status(ok) -> str:
    return "– not run" if ok is None else "✅ pass" if ok else "❌ **FAIL**"


def _md_summary(report: dict) -> list[str]:
    tool = report.get("tool") or {}
    source = report.get("source") or {}
    target = report.get("target") or {}
    rows, totals = table_rows(report)
    passed, failed, not_run = check_counts(report)
    total = passed + failed + not_run
    lines = ["## Summary", ""]
    facts = [
        ("outcome", f"**{md(report.get('outcome', 'unknown'))}**"),
        ("tool", md(f"{tool.get('name', 'hive-etl')} {tool.get('version', '')}".strip())),
        ("started", md(report.get("started_at", "–"))),
        ("finished", md(report.get("finished_at", "–")) + (f" ({md(duration_text(report))})" if duration_text(report) else "")),
        ("source", f"{md_code(source.get('path', '–'))} — unchanged during the run: {yes_no(source.get('bytes_unchanged'))}"),
        ("target", f"{md_code(target.get('path', '–'))} — swapped in: {yes_no(target.get('swapped_in'))}"),
        ("backup", md_code(target["backup"]) if target.get("backup") else "none (the original was not replaced)"),
    ]
    command = restore_command(report)
    if command:
        facts.append(("to undo", md_code(command)))
    if rows:
        facts.append(("rows", " · ".join(f"{fmt_int(totals[k])} {k}" for k in TABLE_COLUMNS)))
    if total:
        facts.append(("checks", f"{passed} of {total} passed" + (f", {not_run} not run" if not_run else "")
                      + (f" — **{failed} failed, see below**" if failed else "")))
    lines += _md_table(["", ""], [[f"**{k}**", v] for k, v in facts])
    return lines + [""]


def _md_reconciliation(report: dict) -> list[str]:
    rows, totals = table_rows(report)
    lines = ["## Reconciliation", "",
             "Per table: read = inserted + merged + duplicates + quarantined. "
             "*created* counts rows the tool made itself (placeholder models and providers, "
             "derived summaries); they have no source row.", ""]
    if not rows:
        return lines + ["No tables were read.", ""]
    body = [[md_code(r.name)] + [fmt_int(r.counts[k]) for k in TABLE_COLUMNS] + ["✅" if r.balanced else "❌ **no**"]
            for r in rows]
    all_balanced = all(r.balanced for r in rows)
    body.append(["**total**"] + [f"**{fmt_int(totals[k])}**" for k in TABLE_COLUMNS] + ["✅" if all_balanced else "❌ **no**"])
    lines += _md_table(["table", *TABLE_COLUMNS, "balanced"], body, right=set(range(1, len(TABLE_COLUMNS) + 1)))
    return lines + [""]


SOURCE_COLUMNS = ("records", "loaded", "merged", "duplicates", "quarantined", "archived")


def source_rows(report: dict) -> list[tuple[str, str, dict]]:
    """(file, table it feeds, counts) of every legacy JSON source, for both renderers."""
    return [(name, s.get("table") or "(archive only)", {k: s.get(k, 0) for k in SOURCE_COLUMNS})
            for name, s in sorted((report.get("sources") or {}).items())]


def credit_values(report: dict) -> list[str]:
    return [f"{c.get('file')} {c.get('json_path')}: {fmt_value(c.get('value'))}" for c in (report.get("credits") or {}).get("found") or []]


def _md_sources(report: dict) -> list[str]:
    rows = source_rows(report)
    lines = ["## Legacy JSON files", ""]
    if not rows:
        return lines + ["No legacy JSON file was found.", ""]
    lines += ["Per file: records = loaded + merged + duplicates + quarantined + archived.", ""]
    body = [[md_code(name), md_code(table)] + [fmt_int(c[k]) for k in SOURCE_COLUMNS] for name, table, c in rows]
    lines += _md_table(["file", "table", *SOURCE_COLUMNS], body, right=set(range(2, 2 + len(SOURCE_COLUMNS))))
    credits = credit_values(report)
    if credits:
        lines += ["", "Credits found (archived, never loaded): " + "; ".join(md(c) for c in credits)]
    return lines + [""]


def _md_totals(report: dict) -> list[str]:
    totals = total_rows(report)
    merging = any(t.merging for t in totals)
    identity = MERGE_TOTALS_IDENTITY if merging else TOTALS_IDENTITY
    lines = ["## Cost and tokens", "", f"Over `usage_records`: {identity}.", ""]
    if totals:
        extra = ["target before", "already present"] if merging else []
        body = []
        for t in totals:
            cells = [md(t.measure), fmt_measure(t.measure, t.source), fmt_measure(t.measure, t.target)]
            if merging:
                cells += [fmt_measure(t.measure, t.target_before), fmt_measure(t.measure, t.already_present)]
            body.append(cells + [fmt_measure(t.measure, t.quarantined), "✅" if t.balanced else "❌ **no**"])
        lines += _md_table(["measure", "source", "target", *extra, "quarantined", "balanced"], body,
                           right=set(range(1, 4 + len(extra))))
    else:
        lines.append("No totals in this report.")
    lines += ["", "### Daily cost", ""]
    daily = daily_cost(report)
    if daily is None:
        lines.append("No daily cost series in this report (`daily_cost` is absent).")
        return lines + [""]
    differing = daily.differing
    if daily.days:
        source_sum, target_sum = sum(d[1] for d in daily.days), sum(d[2] for d in daily.days)
        lines.append(f"{len(daily.days)} days with usage from {daily.days[0][0]} to {daily.days[-1][0]}: "
                     f"source {fmt_cost(source_sum)}, target {fmt_cost(target_sum)}.")
    if daily.undated_entries:
        lines.append(f"Without a readable date: source {fmt_cost(daily.undated_source)}, "
                     f"target {fmt_cost(daily.undated_target)}.")
    lines += ["", "Every day's cost is the same on both sides." if not differing
              else f"{len(differing)} day{'s differ' if len(differing) != 1 else ' differs'}:"]
    if differing:
        lines.append("")
        body = [[str(d), fmt_cost(s), fmt_cost(t), fmt_cost(t - s)] for d, s, t in differing[:DIFF_ROWS_SHOWN]]
        lines += _md_table(["date", "source", "target", "target − source"], body, right={1, 2, 3})
        if len(differing) > DIFF_ROWS_SHOWN:
            lines += ["", f"… and {len(differing) - DIFF_ROWS_SHOWN} more (the HTML report charts them all)."]
    return lines + [""]


def _md_conflicts(report: dict) -> list[str]:
    if "conflicts" not in report:
        return []
    lines = ["## Conflicts", ""]
    groups = conflict_groups(report)
    if not groups:
        return lines + ["No row was held by both sides with different values.", ""]
    lines += [f"Rows the target already held with other values: up to {SAMPLE_ROWS} per table, with the columns "
              "that differ. Both versions of every one are in the archive (`column: \"(row)\"`).", ""]
    for table, rows in groups:
        kept = ", ".join(f"{n} kept {side}" for side, n in count_by(rows, "kept"))
        lines += [f"### {md(table)} — {len(rows)} row{'s' if len(rows) != 1 else ''} ({md(kept)})", ""]
        body = [[md_code(key_text(c.get("key"))), md(c.get("kept") or "–"),
                 md("; ".join(f"{col}: {truncate(fmt_value(a), 60)} → {truncate(fmt_value(b), 60)}"
                              for col, a, b in conflict_columns(c)) or "–")] for c in rows[:SAMPLE_ROWS]]
        lines += _md_table(["key", "kept", "differs (source → target)"], body) + [""]
    return lines


def count_by(rows: list[dict], key: str) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row.get(key))] = counts.get(str(row.get(key)), 0) + 1
    return sorted(counts.items())


def _md_models(report: dict) -> list[str]:
    groups = model_groups(report)
    lines = ["## Model identifiers", ""]
    if not groups:
        return lines + ["No model identifiers in this report.", ""]
    total = sum(len(rows) for _, rows in groups)
    lines.append(f"{total} source identifiers: " + ", ".join(f"{len(rows)} {md(name)}" for name, rows in groups) + ".")
    lines.append("")
    for name, rows in groups:
        lines += [f"### {md(name)} ({len(rows)})", ""]
        if name in RESOLUTION_MEANING:
            lines += [f"*{RESOLUTION_MEANING[name]}.*", ""]
        body = [[md_code(r.get("source")), md(r.get("kind")), md(id_text(r.get("source_internal_id"))),
                 md(id_text(r.get("internal_id"))), md_code(r.get("openrouter_id")) if r.get("openrouter_id") else "–",
                 md(r.get("resolution"))] for r in rows]
        lines += _md_table(["source", "kind", "source id", "internal id", "openrouter id", "resolution"], body, right={2, 3})
        lines.append("")
    return lines


def _md_expectations(report: dict) -> list[str]:
    lines = ["## Expectations and checks", ""]
    groups = expectation_groups(report)
    checks = report.get("checks") or []
    if "expectations" not in report:
        lines += ["No expectation suites in this report.", ""]
    for suite, rows in groups:
        lines += [f"### Suite {md_code(suite)} — {tally_text([expectation_result(r) for r in rows])}", ""]
        with_table = any(r.get("table") for r in rows)
        body = [[_status(expectation_result(r)), md(r.get("name")),
                 md_code(r.get("expectation_type")) if r.get("expectation_type") else "–"]
                + ([md_code(r.get("table")) if r.get("table") else "–"] if with_table else [])
                + [md_code(r.get("column")) if r.get("column") else "–", md(r.get("severity") or "–"),
                   md(truncate(fmt_value(r.get("observed")), 200)), md(r.get("why") or "")] for r in rows]
        headers = ["result", "expectation", "type"] + (["table"] if with_table else []) + ["column", "severity", "observed", "why"]
        lines += _md_table(headers, body)
        lines.append("")
    lines += [f"### Post-load checks — {tally_text([bool(c.get('ok')) for c in checks])}", ""]
    if checks:
        body = [[_status(c.get("ok")), md(c.get("name")), md(c.get("severity") or "–"), md(c.get("detail") or "")] for c in checks]
        lines += _md_table(["result", "check", "severity", "detail"], body)
    else:
        lines.append("No checks ran.")
    return lines + [""]


def _md_quarantine(report: dict, report_dir: Path) -> list[str]:
    lines = ["## Quarantined rows", ""]
    samples = quarantine_samples(report, report_dir)
    if not samples:
        return lines + ["No row was quarantined.", ""]
    lines += [f"Source rows that could not be loaded, with the reason; up to {SAMPLE_ROWS} per table. "
              "All of them, with the whole row, are in the Parquet files named below.", ""]
    for s in samples:
        count = f" — {fmt_int(s.total)} row{'s' if s.total != 1 else ''}" if s.total is not None else ""
        shown = f", first {len(s.rows)} shown" if s.total and len(s.rows) < s.total else ""
        lines += [f"### {md(s.table)}{count}{shown}", "", f"File: {md_code(s.path, table=False)}", ""]
        if s.error:
            lines += [f"❌ {md(s.error)}", ""]
            continue
        body = [[md(id_text(r.get("source_rowid"))), md_code(pk_text(r.get("source_pk"))), md(r.get("reason")),
                 md_code(truncate(str(r.get("row_json") or ""), ROW_PREVIEW_CHARS))] for r in s.rows]
        lines += _md_table(["rowid", "key", "reason", "row"], body, right={0})
        lines.append("")
    return lines


def _md_drift(report: dict) -> list[str]:
    lines = ["## Schema drift", ""]
    drift = report.get("drift")
    if not drift or drift_is_empty(drift):
        return lines + ["The source schema is exactly the TypeScript-era schema.", ""]
    extra_tables = drift.get("extra_tables") or []
    if extra_tables:
        lines += ["Tables the TypeScript-era schema does not have (their values are archived):", ""]
        body = [[md_code(t.get("table")), fmt_int(t.get("rows")), fmt_int(t.get("values_archived"))]
                if isinstance(t, dict) else [md_code(t), "–", "–"] for t in extra_tables]
        lines += _md_table(["table", "rows", "values archived"], body, right={1, 2}) + [""]
    for key, label in (("extra_columns", "Extra columns"), ("missing_columns", "Missing columns"),
                       ("missing_tables", "Missing tables")):
        if drift.get(key):
            lines.append(f"- **{label}:** " + ", ".join(md_code(fmt_value(c), table=False) for c in drift[key]))
    known = {"extra_tables", "extra_columns", "missing_columns", "missing_tables"}
    for key in sorted(k for k in drift if k not in known and drift[k]):
        lines.append(f"- **{md(key)}:** {md(fmt_value(drift[key]))}")
    return lines + [""]


def _md_notes(report: dict) -> list[str]:
    notes = report.get("notes") or []
    lines = ["## Notes", ""]
    lines += [f"- {md(fmt_value(n))}" for n in notes] or ["None."]
    return lines + [""]


def _md_files(report: dict) -> list[str]:
    files = report.get("files") or {}
    lines = ["## Files", "", "Beside this report: `report.json` (the machine-readable account), `report.html`."]
    for kind, paths in files.items():
        if paths:
            lines += ["", f"**{md(kind)}** ({len(paths)}): " + ", ".join(md_code(p, table=False) for p in paths)]
    return lines + [""]


def render_markdown(report: dict, report_dir: Path) -> str:
    """The whole report as GitHub-flavoured Markdown."""
    outcome = report.get("outcome", "unknown")
    lines = [f"# Hive AI migration report — {md(outcome)}", ""]
    lines += _md_summary(report)
    lines += _md_reconciliation(report)
    lines += _md_sources(report)
    lines += _md_totals(report)
    lines += _md_conflicts(report)
    lines += _md_models(report)
    lines += _md_expectations(report)
    lines += _md_quarantine(report, Path(report_dir))
    lines += _md_drift(report)
    lines += _md_notes(report)
    lines += _md_files(report)
    return "\n".join(lines).rstrip() + "\n"
