"""Progress bars: what a person watching a migration on a terminal sees, and that nobody
else (CI logs, pipes) sees any of it."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

from hive_etl.progress import Bar

REPO = Path(__file__).resolve().parents[1]


def test_bar_shows_amount_rate_and_eta():
    out = io.StringIO()
    bar = Bar("load.tables", 1000, "rows", stream=out)
    bar.started -= 2.0                      # two seconds ago
    bar.update(400, "messages")
    line = bar.line()
    assert "messages" in line and "40%" in line and "400/1,000 rows" in line
    rate = float(re.search(r"([\d,]+) rows/s", line).group(1).replace(",", ""))
    assert 150 < rate <= 200                # 400 rows in a little over 2 s
    assert re.search(r"ETA [2-3]s", line)   # 600 rows to go at ~200 rows/s


def test_bar_estimate_moves_by_time_but_never_past_the_statement():
    bar = Bar("load.tables", 10_000, "rows", stream=io.StringIO())
    bar.started -= 4.0
    bar.begin("messages")
    bar._mark = (1000, time.perf_counter() - 2.0)   # 1,000 rows in the first 2 s; this statement began 2 s ago
    bar.done = 1000
    bar.estimate(ceiling=5000)
    assert 1900 <= bar.done <= 2200          # 2 s more at 500 rows/s
    bar.estimate(ceiling=1800)
    assert bar.done == 1800                  # never past the statement's last row


def test_bar_close_ends_the_line_with_the_total():
    out = io.StringIO()
    bar = Bar("indexes", 94, "indexes", stream=out)
    bar.update(50)
    bar.close()
    text = out.getvalue()
    assert text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert "100%" in last and "94/94 indexes" in last and "done in" in last


def test_bytes_bar_speaks_in_megabytes():
    bar = Bar("legacy JSON", 300 * 2**20, "bytes", stream=io.StringIO())
    bar.update(150 * 2**20)
    assert "150 MB/300 MB" in bar.line() and "MB/s" in bar.line()


def _run_on_a_terminal(argv: list[str]) -> tuple[int, str]:
    """Run argv with stderr (and stdout) on a pseudo-terminal; returns (exit code, all output)."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    child = subprocess.Popen(argv, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, cwd=REPO, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:                     # the terminal closed: the child is done
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return child.wait(), b"".join(chunks).decode("utf-8", "replace")


def test_migrate_on_a_terminal_draws_bars_for_the_long_stages(tmp_path):
    code, output = _run_on_a_terminal([sys.executable, "-m", "hive_etl", "migrate", "--home",
                                       str(REPO / "fixtures" / "sample-install"), "--target",
                                       str(tmp_path / "hive-ai.db"), "--report-dir", str(tmp_path / "report")])
    assert code == 0, output[-2000:]
    finished = [line for line in re.split(r"[\r\n]+", output) if "done in" in line]
    labels = [line.split()[0] for line in finished]
    # the JSON files: the small ones first, the usage file's child awaited (a bar if still running);
    # the settled tables' indexes before that await, the rest after the JSON records
    assert labels[0] == "legacy" and [x for x in labels if x != "legacy"] == ["load.tables", "indexes", "load.json", "indexes"], finished
    early, late = (re.search(r"(\d+)/(\d+) indexes", line).groups() for line in finished if line.startswith("indexes"))
    assert early[0] == early[1] and late[0] == late[1] and int(early[1]) + int(late[1]) == 94
    for line in finished:
        assert "100%" in line and "/s" in line, line
    done, total = re.search(r"([\d,]+)/([\d,]+) rows", finished[1]).groups()
    assert done == total and int(total.replace(",", "")) > 1000   # every source row of the copied tables


def test_migrate_into_a_pipe_draws_no_bars(tmp_path):
    child = subprocess.run([sys.executable, "-m", "hive_etl", "migrate", "--home",
                            str(REPO / "fixtures" / "sample-install"), "--target", str(tmp_path / "hive-ai.db"),
                            "--report-dir", str(tmp_path / "report")], capture_output=True, text=True, cwd=REPO)
    assert child.returncode == 0, child.stderr
    assert "\r" not in child.stderr and "ETA" not in child.stderr and "ETA" not in child.stdout
