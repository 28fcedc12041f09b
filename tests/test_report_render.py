"""report.md and report.html: rendered from the report dict (and the quarantine Parquet files).

Unit tests on a hand-made report with hostile strings; an end-to-end test on the sample
install; and a browser test that opens report.html in headless Chromium with the network
off, checks the rendered DOM and looks at a screenshot (skipped without Chromium, except
in CI, where it must run).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
import os
import re
import shutil
import struct
import subprocess
import time
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from hive_etl.load.sidecars import Sidecars
from hive_etl.report import html as html_report
from hive_etl.report.html import nice_ticks, render_html
from hive_etl.report.markdown import (
    fmt_cost,
    fmt_int,
    md,
    md_code,
    render_markdown,
    resolution_base,
    restore_command,
)
from hive_etl.report.write import write_reports

HOSTILE = '<script>alert("pwned")</script>'
HOSTILE_IMG = "<img src=x onerror=alert(1)>"


# ----------------------------------------------------------------------------- a hand-made report


def make_report(**overrides) -> dict:
    report = {
        "tool": {"name": "hive-etl", "version": "0.1.0"},
        "outcome": "migrated",
        "started_at": "2025-07-01T10:00:00.000Z",
        "finished_at": "2025-07-01T10:00:02.500Z",
        "source": {"path": "/home/ann/.hive/hive-ai.db", "bytes_unchanged": True},
        "target": {"path": "/home/ann/.hive/hive-ai.db", "swapped_in": True,
                   "backup": "/home/ann/.hive/hive-ai.db.backup-20250701T100000Z"},
        "tables": {
            "messages": {"read": 1234567, "inserted": 1234560, "merged": 0, "duplicates": 0, "quarantined": 7, "created": 0},
            "openrouter_models": {"read": 40, "inserted": 27, "merged": 13, "duplicates": 0, "quarantined": 0, "created": 3},
            "activity_log": {"read": 10, "inserted": 8, "merged": 0, "duplicates": 1, "quarantined": 1, "created": 0},
            "daily_usage_summary": {"read": 0, "inserted": 0, "merged": 0, "duplicates": 0, "quarantined": 0, "created": 5},
        },
        "totals": {
            "cost": {"source": 12.3456789, "target": 12.3, "quarantined": 0.0456789},
            "tokens_input": {"source": 1500000, "target": 1499000, "quarantined": 1000},
            "tokens_output": {"source": 2000.0, "target": 2000.0, "quarantined": 0},
        },
        "models": [
            {"source": "openai/gpt-4o", "source_internal_id": "4", "kind": "catalog", "internal_id": 2,
             "openrouter_id": "openai/gpt-4o", "resolution": "matched"},
            {"source": "openai/gpt-4o:nitro", "source_internal_id": None, "kind": "reference", "internal_id": 2,
             "openrouter_id": "openai/gpt-4o", "resolution": "catalog (suffix :nitro)"},
            {"source": HOSTILE_IMG, "source_internal_id": None, "kind": "reference", "internal_id": 53,
             "openrouter_id": "x-ai/grok-beta", "resolution": "placeholder"},
            {"source": "pipeline_profiles[p1].generator_model_internal_id = 9999", "source_internal_id": 9999,
             "kind": "legacy", "internal_id": 1, "openrouter_id": None,
             "resolution": "legacy text 'anthropic/claude-3.5-sonnet'"},
            {"source": "cohere/command-r", "source_internal_id": "12", "kind": "catalog", "internal_id": 47,
             "openrouter_id": "cohere/command-r", "resolution": "renumbered"},
        ],
        "checks": [
            {"name": "schema matches v13 spec", "ok": True, "severity": "error", "detail": ""},
            {"name": "foreign keys resolve", "ok": False, "severity": "error", "detail": "messages: 2 rows & <none>"},
        ],
        "expectations": [
            {"suite": "source.usage_records", "name": "cost is a number", "expectation_type": "expect_column_values_to_be_of_type",
             "column": "cost", "severity": "warning", "success": False,
             "observed": {"unexpected_count": 1, "partial_unexpected_list": ["abc"]}, "why": "TEXT costs | odd"},
            {"suite": "source.usage_records", "name": "id unique", "expectation_type": "expect_column_values_to_be_unique",
             "column": "id", "severity": "error", "success": True, "observed": 0, "why": "primary key"},
            {"suite": "target", "name": "row count", "expectation_type": "expect_table_row_count_to_equal",
             "column": None, "severity": "error", "success": True, "observed": 229, "why": "reconciliation"},
        ],
        "daily_cost": [
            {"date": "2025-01-01", "source": 1.5, "target": 1.5},
            {"date": "2025-01-02", "source": 0.25, "target": 0.2},
            {"date": "2025-01-05", "source": 3.0, "target": 3.0},   # 01-03 and 01-04: no usage
            {"date": None, "source": 0.01, "target": 0.01},
        ],
        "drift": {"extra_tables": [{"table": "legacy_stuff", "rows": 12, "values_archived": 36}],
                  "extra_columns": ["consensus_profiles.pipeline_profile_id"], "missing_columns": [], "missing_tables": []},
        "files": {"quarantine": ["quarantine/activity_log.parquet", "quarantine/messages.parquet"],
                  "archive": ["archive/users.parquet"]},
        "notes": [f"note with {HOSTILE}", "plain note"],
    }
    report.update(overrides)
    return report


@pytest.fixture
def report_dir(tmp_path) -> Path:
    """A report folder with tiny quarantine files written by the real sidecar writer."""
    folder = tmp_path / "report"
    sidecars = Sidecars(folder)
    for i in range(7):
        sidecars.quarantine_row("messages", 100 + i, {"id": f"m{i}"},
                                f"conversation_id 'c{i}': no conversations.id with that value | {HOSTILE}",
                                ["id", "conversation_id", "content"], [f"m{i}", f"c{i}", f"hello {i} </pre><b>bold</b>"])
    sidecars.quarantine_row("activity_log", 5, {"id": 5}, "CHECK failed: event_type IN ('query_start')",
                            ["id", "event_type", "blob"], [5, "query_retry", b"\x00\xff"])
    sidecars.close()
    return folder


def ids_in(page: str) -> list[str]:
    return re.findall(r'\bid="([^"]+)"', page)


class Dom(HTMLParser):
    """Elements of a page as (tag, attrs, parent chain of ids) - enough to find things by id/class."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict, tuple[str, ...]]] = []
        self.stack: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs, tuple(i for _, i in self.stack if i)))
        if tag not in {"br", "img", "input", "meta", "link", "col", "hr", "rect", "line", "circle", "polyline", "path"}:
            self.stack.append((tag, attrs.get("id", "")))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), tuple(i for _, i in self.stack if i)))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def inside(self, element_id: str, tag: str, cls: str | None = None) -> list[dict]:
        return [a for t, a, parents in self.elements
                if t == tag and element_id in parents and (cls is None or cls in (a.get("class") or "").split())]


def dom(page: str) -> Dom:
    parser = Dom()
    parser.feed(page)
    return parser


def md_cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


# ----------------------------------------------------------------------------- Markdown


def test_markdown_renders_every_section(report_dir):
    text = render_markdown(make_report(), report_dir)
    for heading in ("## Summary", "## Reconciliation", "## Cost and tokens", "### Daily cost", "## Model identifiers",
                    "## Expectations and checks", "## Quarantined rows", "## Schema drift", "## Notes", "## Files"):
        assert f"\n{heading}" in text, heading
    assert "**migrated**" in text
    assert "hive-etl restore --home /home/ann --backup /home/ann/.hive/hive-ai.db.backup-20250701T100000Z" in text
    # reconciliation: one row per table plus a totals row, numbers with thousands separators
    row = next(line for line in text.splitlines() if line.startswith("| `messages`"))
    assert md_cells(row) == ["`messages`", "1,234,567", "1,234,560", "0", "0", "7", "0", "✅"]
    total = next(line for line in text.splitlines() if line.startswith("| **total**"))
    assert md_cells(total)[1:7] == ["**1,234,617**", "**1,234,595**", "**13**", "**1**", "**8**", "**8**"]
    # totals: costs to 6 decimals, tokens as integers, the identity checked
    cost = next(line for line in text.splitlines() if line.startswith("| cost |"))
    assert md_cells(cost) == ["cost", "12.345679", "12.300000", "0.045679", "✅"]
    assert "| tokens_output | 2,000 | 2,000 | 0 | ✅ |" in text
    # daily cost: the differing day is named
    assert "| 2025-01-02 | 0.250000 | 0.200000 | -0.050000 |" in text
    # models grouped by resolution, plain cases first
    groups = re.findall(r"^### (\S+(?: text)?) \((\d+)\)$", text, re.M)
    assert groups == [("matched", "1"), ("renumbered", "1"), ("catalog", "1"), ("legacy text", "1"), ("placeholder", "1")]
    # expectations by suite, then the checks
    assert "### Suite `source.usage_records` — 1 of 2 passed" in text
    assert "### Suite `target` — 1 of 1 passed" in text
    assert "### Post-load checks — 1 of 2 passed" in text
    assert "❌ **FAIL** | foreign keys resolve" in text
    # quarantine: up to 5 rows per table, with counts
    assert "### messages — 7 rows, first 5 shown" in text
    assert "### activity_log — 1 row" in text
    section = text.split("### messages")[1].split("##")[0]
    assert len([line for line in section.splitlines() if line.startswith("| 10")]) == 5
    assert "`id=m0`" in section
    # drift and notes
    assert "`legacy_stuff` | 12 | 36" in text
    assert "`consensus_profiles.pipeline_profile_id`" in text
    assert "- plain note" in text


def test_markdown_escapes_hostile_strings(report_dir):
    text = render_markdown(make_report(), report_dir)
    # outside code spans (which show their text literally) no raw HTML survives
    outside_code = re.sub(r"(`+).*?\1", "", text)
    assert not re.search(r"(?<!\\)<", outside_code), "every < outside code is backslash-escaped"
    assert "\\<script\\>alert(\"pwned\")\\</script\\>" in text
    # a '|' in a reason does not add a column
    for line in text.splitlines():
        if line.startswith("| 10") and "conversations.id" in line:
            assert len(md_cells(line)) == 4, line


def test_markdown_helpers():
    assert md("a|b_c *x* <i>") == "a\\|b_c \\*x\\* \\<i\\>"
    assert md("_lead and trail_") == "\\_lead and trail\\_"
    assert md("two\nlines") == "two lines"
    assert md_code("a`b") == "``a`b``"
    assert md_code("x|y") == "`x\\|y`" and md_code("x|y", table=False) == "`x|y`"


# ----------------------------------------------------------------------------- HTML


def test_html_has_every_section_with_stable_ids(report_dir):
    page = render_html(make_report(), report_dir)
    ids = ids_in(page)
    assert len(ids) == len(set(ids)), "ids are unique"
    for element_id in ("summary", "reconciliation", "reconciliation-table", "chart-rows", "totals", "totals-table",
                       "chart-daily-cost", "daily-cost-differences", "models", "expectations", "checks", "quarantine",
                       "drift", "notes", "files", "restore-command", "outcome"):
        assert element_id in ids, element_id
    tree = dom(page)
    # the reconciliation table: a row per table, a totals row
    rows = tree.inside("reconciliation-table", "tr")
    assert len([r for r in rows if r.get("data-table")]) == 4
    assert any(r.get("class") == "totals" for r in rows)
    # the rows chart: two bars per table, widths in proportion
    bars = tree.inside("chart-rows", "rect", "bar")
    assert len(bars) == 8
    by = {(b.get("class"), b.get("data-value")): float(b["width"]) for b in bars}
    assert by[("bar bar-source", "1234567")] > by[("bar bar-source", "40")] > 0
    assert by[("bar bar-source", "0")] == 0 and by[("bar bar-target", "5")] > 0
    # the daily cost chart: two lines over every day from the first to the last, gaps at 0
    lines = tree.inside("chart-daily-cost", "polyline", "line")
    assert [line["class"] for line in lines] == ["line line-source", "line line-target"]
    assert all(len(line["points"].split()) == 5 for line in lines)
    assert len(tree.inside("chart-daily-cost", "circle", "marker-diff")) == 1
    assert "Cost without a readable date (not drawn): source 0.010000, target 0.010000." in page
    # models grouped, expectations grouped by suite, quarantine samples capped
    assert [a["id"] for a in tree.inside("models", "details")] == [
        "models-matched", "models-renumbered", "models-catalog", "models-legacy-text", "models-placeholder"]
    assert [a["data-suite"] for a in tree.inside("expectations", "div", "suite")] == ["source.usage_records", "target"]
    samples = {a["data-table"]: a for a in tree.inside("quarantine", "div", "quarantine-table")}
    assert set(samples) == {"messages", "activity_log"}
    assert page.count('<details class="row">') == 6
    assert "7 rows, first 5 shown" in page
    assert "legacy_stuff" in page and "plain note" in page


def test_html_escapes_every_string(report_dir):
    page = render_html(make_report(), report_dir)
    assert page.count("<script") == 1, "only the page's own sort script"
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>bold</b>" not in page and "</pre><b>" not in page
    assert "2 rows &amp; &lt;none&gt;" in page


def test_html_is_self_contained(report_dir):
    page = render_html(make_report(), report_dir)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"<[^>]*\ssrc=", page)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    # the Content-Security-Policy allows exactly the inline sort script and nothing from anywhere
    assert f"script-src &#x27;sha256-{html_report.SCRIPT_HASH}&#x27;" in page
    assert "default-src &#x27;none&#x27;" in page
    assert f"<script>{html_report.SORT_SCRIPT}</script>" in page


def test_missing_optional_keys(tmp_path):
    minimal = {"tables": {"users": {"read": 1, "inserted": 1}}}
    text = render_markdown(minimal, tmp_path)
    page = render_html(minimal, tmp_path)
    assert "No daily cost series" in text and "No expectation suites" in text and "No row was quarantined" in text
    assert "No model identifiers" in text and "No checks ran" in text
    assert 'id="daily-cost-absent"' in page and 'id="expectations-absent"' in page and 'id="chart-rows"' in page
    assert 'id="chart-daily-cost"' not in page and 'id="restore-command"' not in page
    for report in ({}, {"tables": {}}, make_report(daily_cost=[], expectations=[], models=[], checks=[], notes=[],
                                                    drift={}, files={}, totals={})):
        assert render_markdown(report, tmp_path).startswith("# Hive AI migration report")
        assert render_html(report, tmp_path).startswith("<!DOCTYPE html>")


def test_expectations_not_run_and_their_table(tmp_path):
    rows = [{"suite": "target", "name": "fk ok", "expectation_type": "expect_x", "table": "messages", "column": "conversation_id",
             "severity": "error", "success": None, "observed": "table absent", "why": "skipped"},
            {"suite": "target", "name": "pk ok", "expectation_type": "expect_y", "table": "users", "column": "id",
             "severity": "error", "success": True, "observed": "0 of 4 rows unexpected", "why": "pk"}]
    report = make_report(expectations=rows, checks=[], files={})
    text, page = render_markdown(report, tmp_path), render_html(report, tmp_path)
    assert "### Suite `target` — 1 of 2 passed, 1 not run" in text
    assert "| – not run | fk ok | `expect_x` | `messages` | `conversation_id` |" in text
    assert "**checks** | 1 of 2 passed, 1 not run |" in text           # nothing failed: no alarm
    assert '<span class="badge neutral">not run</span>' in page and ">table</th>" in page
    assert '<div class="card "><div class="label">Checks</div><div class="value">1 / 2</div>' in page


def test_unbalanced_table_and_failed_outcome_are_flagged(tmp_path):
    report = make_report(outcome="checks_failed",
                         tables={"users": {"read": 5, "inserted": 3, "merged": 0, "duplicates": 0, "quarantined": 1, "created": 0}},
                         files={})
    page = render_html(report, tmp_path)
    assert '<tr class="bad" data-table="users">' in page
    assert 'class="badge bad outcome" id="outcome">checks_failed<' in page
    assert "❌ **no**" in render_markdown(report, tmp_path)


def test_unreadable_quarantine_file_does_not_hide_the_report(tmp_path):
    (tmp_path / "quarantine").mkdir()
    (tmp_path / "quarantine" / "users.parquet").write_bytes(b"not parquet")
    report = make_report(files={"quarantine": ["quarantine/users.parquet"]})
    assert "could not read quarantine/users.parquet" in render_markdown(report, tmp_path)
    assert "could not read quarantine/users.parquet" in render_html(report, tmp_path)
    # without `files`, whatever is in quarantine/ is shown
    del report["files"]
    assert "### users" in render_markdown(report, tmp_path)


def test_number_formats_and_ticks():
    assert fmt_int(1234567) == "1,234,567" and fmt_int(2.0) == "2" and fmt_int(None) == "–" and fmt_int(1.5) == "1.50"
    assert fmt_cost(3.2703907999999986) == "3.270391" and fmt_cost(0) == "0.000000" and fmt_cost(-0.0000001) == "0.000000"
    assert fmt_cost(1234.5) == "1,234.500000"
    assert nice_ticks(702) == ([0, 200, 400, 600, 800], 0)
    ticks, decimals = nice_ticks(0.21)
    assert ticks[-1] >= 0.21 and decimals == 2
    assert nice_ticks(0) == ([0.0, 1.0], 0)
    assert resolution_base("catalog (suffix :beta)") == "catalog"
    assert resolution_base("legacy text 'x'") == "legacy text"
    assert resolution_base(None) == "unknown"


def test_restore_command():
    assert restore_command({"target": {"path": "/t/new.db", "backup": None}}) is None
    assert restore_command({"target": {"path": "/home/a b/.hive/hive-ai.db", "backup": "/home/a b/.hive/hive-ai.db.backup-1"}}) \
        == "hive-etl restore --home '/home/a b' --backup '/home/a b/.hive/hive-ai.db.backup-1'"
    assert restore_command({"target": {"path": "/data/hive/hive-ai.db", "backup": "/data/hive/hive-ai.db.backup-1"}}) \
        == "HIVE_HOME=/data/hive hive-etl restore --backup /data/hive/hive-ai.db.backup-1"


def test_write_reports_writes_both_beside_report_json(report_dir):
    paths = write_reports(make_report(), report_dir)
    assert paths == [report_dir / "report.md", report_dir / "report.html"]
    assert paths[0].read_text(encoding="utf-8").startswith("# Hive AI migration report — migrated")
    assert paths[1].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(report_dir.glob("*.partial"))


def test_merge_totals_conflicts_and_undated_cost(tmp_path):
    report = make_report(
        files={},
        totals={"cost": {"source": 10.0, "target": 25.0, "quarantined": 1.0, "target_before": 20.0, "already_present": 4.0},
                "tokens_input": {"source": 5, "target": 5, "quarantined": 0, "target_before": 0, "already_present": 0}},
        conflicts=[{"table": "users", "key": {"id": "u1"}, "kept": "source",
                    "source": {"id": "u1", "email": "new@x", "tier": "PRO"},
                    "target": {"id": "u1", "email": "old@x", "tier": "PRO"}},
                   {"table": "users", "key": {"id": "u2"}, "kept": "target",
                    "source": {"id": "u2", "email": HOSTILE}, "target": {"id": "u2", "email": "b@x"}}],
        daily_cost=[{"date": "2025-01-01", "source": 1.0, "target": 1.0},
                    {"date": "undated", "source": 0.5, "target": 0.25}])
    text, page = render_markdown(report, tmp_path), render_html(report, tmp_path)
    # source = (target - target before) + already present + quarantined: 10 = 25 - 20 + 4 + 1
    assert "source = (target − target before) + already present + quarantined" in text
    assert "| cost | 10.000000 | 25.000000 | 20.000000 | 4.000000 | 1.000000 | ✅ |" in text
    assert "❌" not in text.split("## Cost and tokens")[1].split("###")[0]
    assert '<th class="num" scope="col">already present</th>' in page
    # conflicts: by table, the differing columns only
    assert "### users — 2 rows (1 kept source, 1 kept target)" in text
    assert "email: new@x → old@x" in text and "tier:" not in text
    assert 'id="conflicts"' in page and 'href="#conflicts"' in page
    assert "&lt;script&gt;" in page.split('id="conflicts"')[1] and page.count("<script") == 1
    # the undated cost is named, not drawn
    assert "Without a readable date: source 0.500000, target 0.250000." in text
    assert "Cost without a readable date (not drawn): source 0.500000, target 0.250000." in page
    assert len(dom(page).inside("chart-daily-cost", "polyline", "line")) == 2
    # a report without `conflicts` has no such section
    plain = make_report()
    assert "## Conflicts" not in render_markdown(plain, tmp_path)
    assert 'id="conflicts"' not in render_html(plain, tmp_path)


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """The sample install migrated once by the CLI, as in the README."""
    out = tmp_path_factory.mktemp("sample-run")
    home = REPO / "fixtures" / "sample-install"
    result = run_cli("migrate", "--home", str(home), "--target", str(out / "hive-ai.db"), "--report-dir", str(out / "report"))
    assert result.exit_code == 0, result.output + result.stderr
    return out


def copy_report(sample_run: Path, tmp_path: Path) -> tuple[dict, Path]:
    report_dir = tmp_path / "report"
    shutil.copytree(sample_run / "report", report_dir)
    return json.loads((report_dir / "report.json").read_text(encoding="utf-8")), report_dir


def test_sample_install_end_to_end(sample_run, tmp_path):
    report, report_dir = copy_report(sample_run, tmp_path)
    md_path, html_path = write_reports(report, report_dir)
    text, page = md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")
    for table in report["tables"]:
        assert f"| `{table}` |" in text
        assert f'data-table="{table}"' in page
    # Quarantine files: one per table for database rows, one per legacy JSON file for its records.
    sources = report.get("sources", {})
    from_json = {t: sum(s["quarantined"] for s in sources.values() if s["table"] == t) for t in report["tables"]}
    expected = {t: c["quarantined"] - from_json[t] for t, c in report["tables"].items() if c["quarantined"] - from_json[t]}
    expected.update({name: s["quarantined"] for name, s in sources.items() if s["quarantined"]})
    assert {PurePosixPath(f).stem for f in report["files"]["quarantine"]} == set(expected)
    for name, count in expected.items():
        assert f"### {md(name)} — {count} row" in text
    tree = dom(page)
    assert len(tree.inside("chart-rows", "rect", "bar")) == 2 * len(report["tables"])
    assert report["daily_cost"], "report.json carries the daily cost series"
    assert len(tree.inside("chart-daily-cost", "polyline", "line")) == 2
    checks = report["checks"]
    assert checks and all(c["ok"] for c in checks)
    assert f"### Post-load checks — {len(checks)} of {len(checks)} passed" in text
    assert "### placeholder (" in text


# ----------------------------------------------------------------------------- in a browser


def chromium_path() -> str:
    found = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if not found:
        reason = "headless Chromium not found (/usr/bin/chromium; Debian package `chromium`)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser test (.ci/run installs it when root)")
        pytest.skip(reason)
    return found


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    offline = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
               "--proxy-server=127.0.0.1:9", "--hide-scrollbars", "--force-device-scale-factor=1"]
    return subprocess.run([binary, *offline, *args], capture_output=True, text=True, timeout=180, check=False)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes], int]:
    """A minimal PNG decoder (8-bit RGB/RGBA, no interlace): width, height, rows, bytes per pixel."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, header
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    rows, previous, i = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if kind == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, previous))
        elif kind == 3:
            for x in range(stride):
                line[x] = (line[x] + ((line[x - bpp] if x >= bpp else 0) + previous[x]) // 2) & 255
        elif kind == 4:
            for x in range(stride):
                a, b = (line[x - bpp] if x >= bpp else 0), previous[x]
                c = previous[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, rows, bpp


def test_report_html_in_headless_chromium(sample_run, tmp_path):
    binary = chromium_path()
    report, report_dir = copy_report(sample_run, tmp_path)
    _, html_path = write_reports(report, report_dir)
    url = html_path.as_uri()
    started = time.monotonic()

    shot = tmp_path / "report.png"
    result = run_chromium(binary, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    result = run_chromium(binary, tmp_path / "profile-dom", "--dump-dom", url)
    assert result.returncode == 0, result.stderr[-2000:]
    print(f"chromium: screenshot + dump-dom in {time.monotonic() - started:.1f} s; screenshot at {shot}")

    # the DOM as the browser built it: the table, both charts with their bars and lines
    tree = dom(result.stdout)
    rows = [r for r in tree.inside("reconciliation-table", "tr") if r.get("data-table")]
    assert len(rows) == len(report["tables"])
    bars = tree.inside("chart-rows", "rect", "bar")
    assert len(bars) == 2 * len(report["tables"]) and sum(float(b["width"]) > 0 for b in bars) >= len(report["tables"])
    lines = tree.inside("chart-daily-cost", "polyline", "line")
    assert len(lines) == 2 and all(len(line["points"].split()) > 100 for line in lines)
    # the sort script ran (the CSP hash matches): it made the headers focusable
    assert all(th.get("tabindex") == "0" for th in tree.inside("reconciliation-table", "th"))

    # the screenshot is a page, not a blank: many colours, ink on much of it, the table header band
    width, height, pixels, bpp = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    colours, inked = set(), 0
    for row in pixels[::4]:
        for x in range(0, len(row), bpp * 2):
            colour = row[x:x + 3]
            colours.add(colour)
            inked += colour != b"\xff\xff\xff"
    assert len(colours) > 50, len(colours)
    assert inked > 0.05 * (height // 4) * (width // 2), inked
    soft_grey = bytes.fromhex("f4f6f8")   # the table header band (--soft)
    band = (soft_grey + b"\xff" * (bpp - 3)) * 8
    assert any(band in row for row in pixels), "the table header band is painted"


def test_legacy_json_sources_and_credits_are_rendered(sample_run, tmp_path):
    report, report_dir = copy_report(sample_run, tmp_path)
    md_path, html_path = write_reports(report, report_dir)
    text, page = md_path.read_text(encoding="utf-8"), html_path.read_text(encoding="utf-8")
    assert report["sources"], "the sample install carries legacy JSON files"
    for name, source in report["sources"].items():
        assert md(name) in text or name in text
        assert esc_text(name) in page
    assert 'id="sources-table"' in page and "## Legacy JSON files" in text
    for credit in report["credits"]["found"]:
        assert str(credit["value"]) in text and str(credit["value"]) in page


def esc_text(text):
    import html
    return html.escape(text, quote=True)
