"""Shared test helpers: hand-made TypeScript-era installs and a CLI runner."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hive_etl.cli import main

REPO = Path(__file__).resolve().parents[1]
SOURCE_DDL = (REPO / "fixtures" / "source_schema.sql").read_text(encoding="utf-8")
SAMPLES = {"typescript": (REPO / "fixtures" / "sample-install", 7), "desktop": (REPO / "fixtures" / "desktop-install", 11)}


def load_generator():
    """fixtures/generate.py as a module (fixtures/ is not an installed package)."""
    spec = importlib.util.spec_from_file_location("fixture_generate", REPO / "fixtures" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_install(home: Path, sql: str = "", ddl: str = SOURCE_DDL) -> Path:
    """A home folder whose .hive/hive-ai.db has the source schema plus `sql` (CHECKs not enforced)."""
    db = home / ".hive" / "hive-ai.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db)
    conn.executescript(ddl)
    conn.executescript("PRAGMA ignore_check_constraints = 1;\n" + sql)
    conn.commit()
    conn.close()
    return home


class Run:
    def __init__(self, result, report_dir: Path, target: Path):
        self.exit_code, self.output, self.stderr = result.exit_code, result.stdout, result.stderr
        self.report_dir, self.target = report_dir, target

    @property
    def report(self) -> dict:
        return json.loads((self.report_dir / "report.json").read_text())

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.target}?mode=ro", uri=True)


def run_cli(*args: str) -> "object":
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def fresh_python(code: str) -> str:
    """What `code` prints in a new interpreter (what is imported there is its own doing);
    fails the test, with the interpreter's stderr, when it does not exit 0."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def migrate(tmp_path):
    """Migrate a home folder into tmp_path/out/hive-ai.db; returns a Run."""

    def _migrate(home: Path, *extra: str) -> Run:
        target = tmp_path / "out" / "hive-ai.db"
        target.parent.mkdir(exist_ok=True)
        report_dir = tmp_path / "out" / "report"
        result = run_cli("migrate", "--home", str(home), "--target", str(target), "--report-dir", str(report_dir), *extra)
        return Run(result, report_dir, target)

    return _migrate
