"""The run context: what one migration run knows, shared by its stages.

Stages read what earlier stages left here (paths, the build connection, the model map) and
add their own results (counts, checks, archived values). The report is written from it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .load.sidecars import Sidecars
from .transform.model_ids import ModelMap


@dataclass
class TableCounts:
    """Reconciliation terms of one table: read = inserted + merged + duplicates + quarantined.

    `created` counts rows the tool made itself (placeholder models, derived summaries); they
    have no source row, so they stand outside the identity.
    """

    read: int = 0
    inserted: int = 0
    merged: int = 0
    duplicates: int = 0
    quarantined: int = 0
    created: int = 0

    def balanced(self) -> bool:
        return self.read == self.inserted + self.merged + self.duplicates + self.quarantined

    def as_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class SourceCounts:
    """What became of one legacy JSON file's records:
    records = loaded + merged + duplicates + quarantined + archived."""

    path: str = ""
    table: str | None = None
    records: int = 0
    loaded: int = 0
    merged: int = 0
    duplicates: int = 0
    quarantined: int = 0
    archived: int = 0            # records of the archive-only files (usage_stats, subscription_cache)
    repeated_in_file: int = 0    # of the duplicates, those the same file held twice

    def balanced(self) -> bool:
        return self.records == self.loaded + self.merged + self.duplicates + self.quarantined + self.archived

    def as_dict(self) -> dict:
        return dict(vars(self))


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str = ""
    severity: str = "error"


@dataclass
class RunContext:
    source: Path
    target: Path
    home: Path
    report_dir: Path
    now: datetime
    dry_run: bool = False
    merge: bool = False                  # the target is an existing Rust-era database
    work_dir: Path | None = None
    snapshot_uri: str | None = None      # what is attached as `src`: the source read-only, or a copy
    build_path: Path | None = None
    conn: sqlite3.Connection | None = None
    source_columns: dict[str, list[str]] = field(default_factory=dict)   # snapshot table -> columns
    source_keys: dict[str, list[str]] = field(default_factory=dict)      # snapshot table -> pk columns
    source_unique: dict[str, list[list[str]]] = field(default_factory=dict)  # snapshot table -> column sets it holds unique
    target_rows_before: dict[str, int] = field(default_factory=dict)
    loaded: set[str] = field(default_factory=set)
    model_map: ModelMap | None = None
    model_rowids: dict[int, int] = field(default_factory=dict)            # source rowid -> catalog decision
    model_resolutions: list[dict] = field(default_factory=list)          # dangling ids resolved from text
    tables: dict[str, TableCounts] = field(default_factory=dict)
    totals: dict[str, dict[str, float]] = field(default_factory=dict)
    checks: list[CheckResult] = field(default_factory=list)
    drift: dict[str, list] = field(default_factory=lambda: {"extra_tables": [], "extra_columns": [], "missing_columns": []})
    notes: list[str] = field(default_factory=list)
    figures: dict[str, list] = field(default_factory=dict)                # charted in the report
    conflicts: list[dict] = field(default_factory=list)                   # rows both sides hold, differently
    warnings: list[str] = field(default_factory=list)                     # said to the user, outcome unchanged
    expectations: list[dict] = field(default_factory=list)                # every expectation result, by suite
    credits: list[float] = field(default_factory=list)                    # credits_remaining values seen (never loaded)
    suite_outcomes: list = field(default_factory=list)                    # expectation suite results, for --data-docs
    json_path: Path | None = None                                         # staging database of the legacy JSON files
    sources: dict[str, SourceCounts] = field(default_factory=dict)        # legacy JSON file name -> its counts
    credit_sources: list[dict] = field(default_factory=list)              # where each credits value was found
    usage_duplicates: int | None = None                                   # usage records the usage file's child dropped as known
    subscription_cache: dict | None = None                                # subscription_cache.json's values
    data_docs: bool = False                                               # also build Great Expectations Data Docs
    progress: Callable[[str], None] | None = None                         # where progress lines go (a terminal)
    sidecars: Sidecars | None = None
    backup_path: Path | None = None
    swapped: bool = False
    outcome: str = "running"
    source_stat: tuple | None = None
    background: dict[str, object] = field(default_factory=dict)            # suites running in a child: name -> job
    stage_seconds: dict[str, float] = field(default_factory=dict)         # stage name -> wall time, in run order

    def bar(self, label: str, total: float, unit: str = "rows"):
        """A progress bar for a long stage: drawn when someone watches (progress lines are on),
        else one that does nothing."""
        from .progress import Bar, NoBar

        return Bar(label, total, unit) if self.progress else NoBar()

    def counts(self, table: str) -> TableCounts:
        return self.tables.setdefault(table, TableCounts())
