"""Write the human-readable reports (report.md, report.html) beside report.json."""

from __future__ import annotations

import os
from pathlib import Path

from .html import render_html
from .markdown import render_markdown


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary name, so a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8", newline="\n")
    os.replace(partial, path)


def write_reports(report: dict, report_dir: Path) -> list[Path]:
    """Render `report` (the report.json dict) as report.md and report.html in `report_dir`.

    Quarantine samples are read from `report_dir/quarantine/<table>.parquet`. Returns the
    paths written, Markdown first.
    """
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, render in (("report.md", render_markdown), ("report.html", render_html)):
        path = report_dir / name
        _write_text(path, render(report, report_dir))
        written.append(path)
    return written
