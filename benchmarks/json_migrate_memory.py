"""Benchmark: `hive-etl migrate` of an install whose usage-monitor.json holds N records.

    python benchmarks/json_migrate_memory.py [--records 1000000]

Generates the small sample install (seed 7), replaces its usage-monitor.json with N
plausible records (benchmarks/json_memory.py's writer), then runs `hive-etl migrate` with
every stage on, as a child process, and prints its wall time and peak RSS (wait4), and the
same for a run with the original small usage file as the baseline of the same run. The
expectation suites run in a grandchild of their own; its peak is printed apart.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

from json_memory import write_usage_file  # noqa: E402


def migrate(home: Path, out: Path) -> tuple[float, float]:
    out.mkdir(parents=True)
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "hive_etl", "migrate", "--home", str(home), "--target",
                              str(out / "hive-ai.db"), "--report-dir", str(out / "report")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"migrate failed: {child.stderr.read().decode()[-500:]}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hive-etl-json-bench-") as tmp:
        root = Path(tmp)
        subprocess.run([sys.executable, str(REPO / "fixtures" / "generate.py"), str(root / "home"), "--seed", "7"],
                       check=True, stdout=subprocess.DEVNULL, cwd=REPO)
        baseline = migrate(root / "home", root / "base")
        usage = root / "home" / ".hive-ai" / "usage-monitor.json"
        write_usage_file(usage, args.records)
        size = usage.stat().st_size
        big = migrate(root / "home", root / "big")
        shutil.rmtree(root / "base", ignore_errors=True)
    print(f"baseline (sample install, 61 JSON records): {baseline[0]:6.1f} s  peak RSS {baseline[1]:6.0f} MB")
    print(f"{args.records:,} JSON usage records ({size / 2**20:,.0f} MB): {big[0]:6.1f} s  peak RSS {big[1]:6.0f} MB")
    print(f"ratio peak RSS big/baseline: {big[1] / baseline[1]:.2f}; records/s: {args.records / big[0]:,.0f}")


if __name__ == "__main__":
    main()
