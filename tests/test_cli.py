"""The command line: exit codes, one-line errors, no partial output, the swap and restore."""

import hashlib
import json
import os
import sqlite3
from datetime import datetime, timezone

import pytest

from conftest import SAMPLES, fresh_python, make_install, run_cli
from hive_etl.schema import create_fresh_target, create_indexes

BASE = "INSERT INTO users (id, email, tier) VALUES ('u1', 'ada@example.com', 'free');"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_one_line_error(result, code, *words):
    assert result.exit_code == code, result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hive-etl: error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    for word in words:
        assert word in lines[0]


def rust_era_db(path, version=13):
    conn = sqlite3.connect(path)
    create_fresh_target(conn, datetime.now(timezone.utc))
    create_indexes(conn)
    if version != 13:
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'future', '2026-01-01T00:00:00Z')", (version,))
    conn.commit()
    conn.close()


def nothing_written(folder, *allowed):
    left = sorted(p.name for p in folder.iterdir() if p.name not in allowed)
    assert left == [], left


@pytest.fixture
def home(tmp_path):
    return make_install(tmp_path / "home", BASE)


def migrate_args(home, tmp_path, **options):
    args = ["migrate", "--home", str(home), "--report-dir", str(tmp_path / "report")]
    for name, value in options.items():
        args += [f"--{name}", str(value)]
    return args


def test_missing_source_file(tmp_path):
    result = run_cli(*migrate_args(tmp_path / "nobody", tmp_path, target=tmp_path / "out.db"))
    assert_one_line_error(result, 2, "hive-ai.db", "no such file")
    nothing_written(tmp_path)


def test_source_that_is_not_sqlite(tmp_path, home):
    db = home / ".hive" / "hive-ai.db"
    db.write_text("{ this is JSON, not a database }")
    result = run_cli(*migrate_args(home, tmp_path, target=tmp_path / "out.db"))
    assert_one_line_error(result, 2, str(db), "not a SQLite database")
    nothing_written(tmp_path, "home")


def test_truncated_source(tmp_path, home):
    db = home / ".hive" / "hive-ai.db"
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2 + 100])
    result = run_cli(*migrate_args(home, tmp_path, target=tmp_path / "out.db"))
    assert_one_line_error(result, 2, str(db), "truncated")
    nothing_written(tmp_path, "home")


def test_truncated_to_whole_pages_is_still_refused(tmp_path, home):
    db = home / ".hive" / "hive-ai.db"
    data = db.read_bytes()
    db.write_bytes(data[: (len(data) // 4096 // 2) * 4096])
    result = run_cli(*migrate_args(home, tmp_path, target=tmp_path / "out.db"))
    assert_one_line_error(result, 2, str(db))
    nothing_written(tmp_path, "home")


@pytest.mark.parametrize("victim", ["messages", "idx_usage_timestamp"])
def test_source_with_a_damaged_page_is_refused_in_one_line(tmp_path, home, victim):
    """A page of a table the load reads, or of an index it never reads: either way the
    source's quick_check names the file and the damage, on one line, and nothing is written."""
    db = home / ".hive" / "hive-ai.db"
    conn = sqlite3.connect(db)
    root, page_size = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (victim,)).fetchone()[0], \
        conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with db.open("r+b") as f:                     # a leaf page header claiming 65535 cells
        f.seek((root - 1) * page_size)
        f.write(b"\x0d\xff\xff\xff\xff\xff\xff\xff")
    result = run_cli(*migrate_args(home, tmp_path, target=tmp_path / "out.db"))
    assert_one_line_error(result, 2, str(db), "damaged SQLite database (")
    nothing_written(tmp_path, "home")


def test_sqlite_file_from_another_app(tmp_path):
    db = tmp_path / "home" / ".hive" / "hive-ai.db"
    db.parent.mkdir(parents=True)
    sqlite3.connect(db).executescript("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT);")
    result = run_cli(*migrate_args(tmp_path / "home", tmp_path, target=tmp_path / "out.db"))
    assert_one_line_error(result, 2, "not a Hive AI database")


def test_source_that_is_already_rust_era(tmp_path):
    db = tmp_path / "home" / ".hive" / "hive-ai.db"
    db.parent.mkdir(parents=True)
    rust_era_db(db)
    result = run_cli(*migrate_args(tmp_path / "home", tmp_path, target=tmp_path / "out.db"))
    assert_one_line_error(result, 2, "already a Rust-era database")


def test_target_newer_than_version_13_is_refused(tmp_path, home):
    target = tmp_path / "rust.db"
    rust_era_db(target, 14)
    before = sha256(target)
    result = run_cli(*migrate_args(home, tmp_path, target=target))
    assert_one_line_error(result, 2, str(target), "schema version 14 is newer than 13")
    assert sha256(target) == before
    nothing_written(tmp_path, "home", "rust.db")


def test_target_that_is_some_other_file(tmp_path, home):
    target = tmp_path / "notes.txt"
    target.write_text("my notes")
    result = run_cli(*migrate_args(home, tmp_path, target=target))
    assert_one_line_error(result, 2, str(target), "not a SQLite database")
    assert target.read_text() == "my notes"


def test_failed_post_load_check_exits_1_and_swaps_nothing(tmp_path, home, monkeypatch):
    from hive_etl.checks import post_load
    from hive_etl.context import CheckResult

    monkeypatch.setattr(post_load, "CHECKS", post_load.CHECKS + (lambda ctx: CheckResult("planted failure", False, "on purpose"),))
    db = home / ".hive" / "hive-ai.db"
    before = sha256(db)
    result = run_cli(*migrate_args(home, tmp_path))
    assert_one_line_error(result, 1, "planted failure", "nothing was swapped in")
    assert sha256(db) == before
    nothing_written(db.parent, "hive-ai.db")
    report = (tmp_path / "report" / "report.json").read_text()
    assert '"outcome": "checks_failed"' in report


def test_a_failed_run_reports_its_daily_cost(tmp_path, monkeypatch):
    """The daily cost, source against target, is where a reconciliation failure is looked
    into: it is computed before the post-load checks, which may fail."""
    from hive_etl.checks import post_load
    from hive_etl.context import CheckResult

    monkeypatch.setattr(post_load, "CHECKS", post_load.CHECKS + (lambda ctx: CheckResult("planted failure", False, "on purpose"),))
    result = run_cli(*migrate_args(SAMPLES["typescript"][0], tmp_path, target=tmp_path / "out.db"))
    assert result.exit_code == 1
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["outcome"] == "checks_failed"
    assert report["daily_cost"] and sum(d["target"] for d in report["daily_cost"]) > 0


def test_default_target_swaps_in_place_keeps_a_backup_and_restore_brings_it_back(tmp_path, home):
    db = home / ".hive" / "hive-ai.db"
    original = sha256(db)
    result = run_cli("migrate", "--home", str(home))
    assert result.exit_code == 0, result.stderr
    backups = list(db.parent.glob("hive-ai.db.backup-*"))
    assert len(backups) == 1 and sha256(backups[0]) == original
    assert f"hive-etl restore --database {db} --backup {backups[0]}" in result.output
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (13,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()
    reports = list((db.parent / "migration-reports").glob("*/report.json"))
    assert len(reports) == 1
    assert not [p for p in db.parent.iterdir() if p.name.startswith(".hive-etl-")]
    migrated = sha256(db)

    result = run_cli("restore", "--home", str(home))
    assert result.exit_code == 0, result.stderr
    assert sha256(db) == original
    kept = list(db.parent.glob("hive-ai.db.migrated-*"))
    assert len(kept) == 1 and sha256(kept[0]) == migrated


def test_hive_home_overrides_the_hive_folder(tmp_path, home, monkeypatch):
    moved = tmp_path / "elsewhere"
    os.rename(home / ".hive", moved)
    monkeypatch.setenv("HIVE_HOME", str(moved))
    result = run_cli("migrate", "--home", str(tmp_path / "nohome"), "--target", str(tmp_path / "out.db"),
                     "--report-dir", str(tmp_path / "report"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out.db").exists()


def test_restore_without_a_backup(tmp_path, home):
    result = run_cli("restore", "--home", str(home))
    assert_one_line_error(result, 2, "no hive-ai.db.backup-* found")


def test_source_bytes_never_change_even_in_wal_mode_with_a_reader_open(tmp_path, home):
    db = home / ".hive" / "hive-ai.db"
    app = sqlite3.connect(db, isolation_level=None)
    app.execute("PRAGMA journal_mode = WAL")
    app.execute("INSERT INTO users (id, email) VALUES ('u2', 'late@example.com')")
    app.execute("BEGIN")
    app.execute("INSERT INTO users (id, email) VALUES ('u3', 'uncommitted@example.com')")
    files_before = {p.name: sha256(p) for p in db.parent.iterdir() if p.name != "hive-ai.db-shm"}
    result = run_cli(*migrate_args(home, tmp_path, target=tmp_path / "out.db"))
    assert result.exit_code == 0, result.stderr
    app.execute("ROLLBACK")
    assert {p.name: sha256(p) for p in db.parent.iterdir() if p.name != "hive-ai.db-shm"} == files_before
    with sqlite3.connect(tmp_path / "out.db") as out:
        assert sorted(r[0] for r in out.execute("SELECT id FROM users")) == ["u1", "u2"]
    app.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts the process's threads in /proc")
def test_the_cli_keeps_numpy_from_starting_blas_threads_and_keeps_a_users_setting():
    # pyarrow and the expectation library import numpy, whose OpenBLAS starts a spinning
    # thread per core; the migration's processes never do linear algebra.
    code = (
        "import os\n"
        "from click.testing import CliRunner\n"
        "from hive_etl.cli import main\n"
        "os.environ.pop('OPENBLAS_NUM_THREADS', None)\n"
        "CliRunner().invoke(main, ['check', '--db', 'no-such.db'])\n"
        "import numpy\n"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'), len(os.listdir('/proc/self/task')))\n"
        "os.environ['OPENBLAS_NUM_THREADS'] = '3'\n"
        "CliRunner().invoke(main, ['check', '--db', 'no-such.db'])\n"
        "print(os.environ['OPENBLAS_NUM_THREADS'])\n"
    )
    assert fresh_python(code).split() == ["1", "1", "3"]
