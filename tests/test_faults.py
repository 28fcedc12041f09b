"""Fault injection: killed runs, locked and hostile targets, a full disk, a read-only folder.

Whatever happens, the user ends with the complete new database or the untouched original,
never something in between.
"""

import hashlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path


from conftest import REPO, SAMPLES, make_install, run_cli
from hive_etl.schema import diff_tables, introspect, target_spec

DRIVER = REPO / "tests" / "kill_driver.py"
KILL_POINTS_SPREAD, KILL_POINTS_TAIL, RERUN_EVERY = 50, 15, 10


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fresh_home(root):
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(SAMPLES["typescript"][0], root)
    return root


def drive(kill_at, home, report, count_file):
    return subprocess.run(
        [sys.executable, str(DRIVER), str(kill_at), str(count_file), "--", "migrate", "--home", str(home), "--report-dir", str(report)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )


def is_complete_v13(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return (conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                and diff_tables(introspect(conn), target_spec()["tables"]) == [])
    finally:
        conn.close()


def test_sigkill_at_many_points_never_leaves_a_half_built_database(tmp_path):
    original = sha256(SAMPLES["typescript"][0] / ".hive" / "hive-ai.db")
    home = fresh_home(tmp_path / "home")
    counted = drive(0, home, tmp_path / "report", tmp_path / "count")
    assert counted.returncode == 0, counted.stderr
    total, swap = map(int, (tmp_path / "count").read_text().split())
    assert 0 < swap < total
    # Spread over the migration up to the swap, then crowded around the backup and rename:
    # the two just before the swap, the rest counted from the swap's start (kill_driver.py).
    spread = sorted({1 + i * (swap - 1) // KILL_POINTS_SPREAD for i in range(KILL_POINTS_SPREAD)})
    tail = [swap - 3, swap - 1] + [f"swap+{k}" for k in range(1, 2 * KILL_POINTS_TAIL - 3, 2)]
    points = spread + tail
    assert len(spread) == KILL_POINTS_SPREAD and len(tail) == KILL_POINTS_TAIL
    outcomes = {"original": 0, "migrated": 0}
    for point in points:
        home = fresh_home(tmp_path / "home")
        db = home / ".hive" / "hive-ai.db"
        killed = drive(point, home, tmp_path / "report", tmp_path / "count")
        assert killed.returncode == -9, (point, killed.returncode, killed.stderr)
        assert not db.with_name(db.name + "-wal").exists() and not db.with_name(db.name + "-journal").exists()
        backups = sorted(db.parent.glob("hive-ai.db.backup-*"))
        if sha256(db) == original:
            outcomes["original"] += 1
            if outcomes["original"] % RERUN_EVERY:
                continue  # a full re-run after every kill would take minutes; every tenth proves it
            rerun = run_cli("migrate", "--home", str(home), "--report-dir", str(tmp_path / f"rerun-{point}"))
            assert rerun.exit_code == 0, (point, rerun.stderr)
            assert is_complete_v13(db)
            assert not [p for p in db.parent.iterdir() if p.name.startswith(".hive-etl-")], point
        else:
            outcomes["migrated"] += 1
            assert is_complete_v13(db), point
            assert [sha256(b) for b in backups] == [original], point
    assert outcomes["original"] >= KILL_POINTS_SPREAD and outcomes["migrated"] >= 1, outcomes


def test_target_held_open_by_another_program_is_refused_not_waited_on(tmp_path):
    home = make_install(tmp_path / "home", "INSERT INTO users (id) VALUES ('u1');")
    target = tmp_path / "rust.db"
    first = run_cli("migrate", "--home", str(home), "--target", str(target), "--report-dir", str(tmp_path / "r1"))
    assert first.exit_code == 0, first.stderr
    app = subprocess.Popen(
        [sys.executable, "-c", f"import sqlite3, time; c = sqlite3.connect({str(target)!r}); "
         "c.execute('SELECT count(*) FROM users').fetchall(); print('open', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout.readline().strip() == "open"
        before = sha256(target)
        result = run_cli("migrate", "--home", str(home), "--target", str(target), "--report-dir", str(tmp_path / "r2"))
        assert result.exit_code == 2
        assert "in use by another program" in result.stderr and str(target) in result.stderr
        assert sha256(target) == before and not (tmp_path / "r2").exists()
    finally:
        app.kill()
        app.wait()


def test_corrupt_rust_era_target_is_refused(tmp_path):
    home = make_install(tmp_path / "home", "INSERT INTO users (id) VALUES ('u1');")
    target = tmp_path / "rust.db"
    assert run_cli("migrate", "--home", str(home), "--target", str(target), "--report-dir", str(tmp_path / "r1")).exit_code == 0
    conn = sqlite3.connect(target)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'openrouter_models'").fetchone()[0]
    conn.close()
    data = bytearray(target.read_bytes())
    start = (root - 1) * page_size
    data[start + 8:start + 40] = b"\xff" * 32   # scribble over the catalog's cell pointers
    target.write_bytes(bytes(data))
    result = run_cli("migrate", "--home", str(home), "--target", str(target), "--report-dir", str(tmp_path / "r2"))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert str(target) in result.stderr and "Traceback" not in result.stderr


def test_not_enough_free_disk_is_refused_before_writing(tmp_path, monkeypatch):
    home = make_install(tmp_path / "home", "INSERT INTO users (id) VALUES ('u1');")
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=1 << 20))
    (tmp_path / "out").mkdir()
    result = run_cli("migrate", "--home", str(home), "--target", str(tmp_path / "out" / "x.db"), "--report-dir", str(tmp_path / "r"))
    assert result.exit_code == 2 and "not enough free disk space" in result.stderr
    assert list((tmp_path / "out").iterdir()) == [] and not (tmp_path / "r").exists()


def test_the_free_disk_needed_counts_the_legacy_json_records(tmp_path, monkeypatch):
    """Room for the snapshot and the new database is not enough: the JSON files' records are
    staged in the work folder too."""
    from hive_etl.extract.legacy_json import find_json_sources

    home = SAMPLES["typescript"][0]
    source = (home / ".hive" / "hive-ai.db").stat().st_size
    json_bytes = sum(p.stat().st_size for p in find_json_sources(home).values())
    assert json_bytes > 0
    real = shutil.disk_usage
    # enough for everything but the JSON records (SPARE_BYTES is 16 MB)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=2 * source + (16 << 20) + json_bytes // 2))
    (tmp_path / "out").mkdir()
    result = run_cli("migrate", "--home", str(home), "--target", str(tmp_path / "out" / "x.db"), "--report-dir", str(tmp_path / "r"))
    assert result.exit_code == 2 and "not enough free disk space" in result.stderr and "legacy JSON" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_read_only_target_folder_is_refused(tmp_path, monkeypatch):
    home = make_install(tmp_path / "home", "INSERT INTO users (id) VALUES ('u1');")
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if self.parent == tmp_path / "ro":
            raise PermissionError(13, "Permission denied")
        return real_mkdir(self, *args, **kwargs)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(Path, "mkdir", refuse)   # root ignores file modes, so the refusal is simulated
    result = run_cli("migrate", "--home", str(home), "--target", str(tmp_path / "ro" / "x.db"), "--report-dir", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "cannot write in" in result.stderr and "Permission denied" in result.stderr
    assert list((tmp_path / "ro").iterdir()) == []
