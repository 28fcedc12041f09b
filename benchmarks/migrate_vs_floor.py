"""Benchmark: `hive-etl migrate` against the SQLite copy floor, on one generated install.

    python benchmarks/migrate_vs_floor.py [--scale heavy [--scale heavy:2 ...]] [--runs 3] [--out benchmarks/out]

In one run, for each scale, on the same generated install (cached under --out), round-robin:
  (a) the floor: a plain copy of the same data into the same v13 schema: the database's
      tables by SQL (ATTACH, INSERT OR IGNORE ... SELECT of the shared columns, integer model
      references through a JOIN to a map table, journal and sync off, the page size migrate
      writes (hive_etl.sqlite_files.PAGE_SIZE), indexes built after the data), and the
      usage-monitor.json records streamed with ijson's C parser into usage_records
      (executemany, no checks);
  (b) `hive-etl migrate` with every check on (expectation suites included), to a new target.
Each is a child process; its wall time, CPU time and peak RSS are recorded: the CPU (user +
system) of the child and every process it waited for (wait4: migrate's usage file and suites'
children included), the largest single process (wait4 too) and the whole process tree
(sampled every 50 ms from /proc: migrate and its children run at the same time). Prints
medians, the ratio (b)/(a) of wall times and of CPU times (the migration uses two cores, the
floor one: on a busy machine the CPU ratio moves less than the wall one), the cores the
migration kept busy on average, throughput in source rows/s (database rows + JSON records)
and peak memory, and writes them as JSON. Nothing here is asserted: these machines are shared, so
figures are for reading.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FLOOR_SCRIPT = r"""
import sqlite3, sys
from hive_etl.load.all_tables import load_order
from hive_etl.schema import create_indexes, create_tables, target_spec
from hive_etl.sqlite_files import PAGE_SIZE
source, target = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(target, isolation_level=None)
conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")   # the page size migrate writes: the same physical layout
conn.execute("PRAGMA journal_mode = OFF"); conn.execute("PRAGMA synchronous = OFF")
create_tables(conn)
conn.execute("ATTACH DATABASE ? AS src", (source,))
conn.execute("BEGIN")
conn.execute("CREATE TEMP TABLE model_map AS SELECT internal_id AS source_id, rowid AS target_id FROM src.openrouter_models")
spec = target_spec()["tables"]
model_refs = {"provider_performance": ["model_internal_id"], "model_rankings": ["model_internal_id"],
              "pipeline_profiles": [f"{s}_model_internal_id" for s in ("generator", "refiner", "validator", "curator")]}
for table in load_order():
    have = {r[1] for r in conn.execute(f'PRAGMA src.table_info("{table}")')}
    cols = [c["name"] for c in spec[table]["columns"] if c["name"] in have]
    if not cols:
        continue
    select, joins = [], []
    for i, c in enumerate(cols):
        if c in model_refs.get(table, ()):
            joins.append(f'LEFT JOIN temp.model_map AS m{i} ON m{i}.source_id = s."{c}"')
            select.append(f"m{i}.target_id")
        else:
            select.append(f's."{c}"')
    conn.execute(f'INSERT OR IGNORE INTO main."{table}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
                 f'SELECT {", ".join(select)} FROM src."{table}" AS s {" ".join(joins)}')
conn.execute("COMMIT")
usage = sys.argv[3]
if usage:
    import ijson
    conn.execute("BEGIN")
    insert = ("INSERT OR IGNORE INTO main.usage_records (id, user_id, conversation_id, action_type, model_used, "
              "tokens_input, tokens_output, cost, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    with open(usage, "rb") as f:
        first = f.read(1); f.seek(0)
        records = ijson.items(f, "records.item" if first == b"{" else "item", use_float=True)
        batch = []
        for n, r in enumerate(records):
            g = r.get
            batch.append((g("id") or f"floor-{n}", g("userId") or g("user_id"), g("conversationId") or g("conversation_id"),
                          g("action") or g("action_type") or "unknown", g("model") or g("model_used"),
                          g("inputTokens") or g("input_tokens") or 0, g("outputTokens") or g("output_tokens") or 0,
                          g("cost") or 0, str(g("timestamp") or g("created_at"))))
            if len(batch) == 10_000:
                conn.executemany(insert, batch); batch = []
        conn.executemany(insert, batch)
    conn.execute("COMMIT")
create_indexes(conn)
conn.close()
"""


def _tree_rss(root: int) -> int:
    """Bytes resident in `root` and all its descendants now (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


PAGE = os.sysconf("SC_PAGE_SIZE")


def run_child(argv: list[str]) -> tuple[float, int, int, float]:
    """(seconds, peak RSS of the largest process, peak RSS of the process tree, CPU seconds of
    the child and the descendants it waited for) of one child."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as devnull, subprocess.Popen(argv, stdout=devnull, stderr=subprocess.PIPE, cwd=REPO) as child:
        tree_peak = 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            tree_peak = max(tree_peak, _tree_rss(child.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        stderr = child.stderr.read().decode("utf-8", "replace")
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({child.returncode}): {stderr.strip()[-500:]}")
    return seconds, usage.ru_maxrss * 1024, max(tree_peak, usage.ru_maxrss * 1024), usage.ru_utime + usage.ru_stime


def ensure_install(out: Path, scale: str, seed: int) -> Path:
    home = out / f"install-{scale.replace(':', '-')}-{seed}"
    if not (home / ".hive" / "hive-ai.db").exists():
        if home.exists():
            shutil.rmtree(home)
        started = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "fixtures" / "generate.py"), str(home), "--scale", scale,
                        "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL, cwd=REPO)
        print(f"generated {scale} install in {time.perf_counter() - started:.1f} s", flush=True)
    return home


def source_rows(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    total = sum(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
    conn.close()
    return total


def json_records(usage: Path) -> int:
    import ijson

    if not usage.exists():
        return 0
    with usage.open("rb") as f:
        first = f.read(1)
        f.seek(0)
        return sum(1 for _ in ijson.items(f, "records.item" if first == b"{" else "item"))


def measure(scale: str, seed: int, runs: int, out: Path) -> dict:
    home = ensure_install(out, scale, seed)
    db = home / ".hive" / "hive-ai.db"
    usage = home / ".hive-ai" / "usage-monitor.json"
    rows, records = source_rows(db), json_records(usage)
    scratch = out / "scratch"
    samples: dict[str, list[tuple[float, int, int, float]]] = {"floor": [], "migrate": []}
    for run in range(runs):
        for name in ("floor", "migrate"):
            if scratch.exists():
                shutil.rmtree(scratch)
            scratch.mkdir()
            target = scratch / "hive-ai.db"
            if name == "floor":
                argv = [sys.executable, "-c", FLOOR_SCRIPT, str(db), str(target), str(usage) if usage.exists() else ""]
            else:
                argv = [sys.executable, "-m", "hive_etl", "migrate", "--home", str(home), "--target", str(target),
                        "--report-dir", str(scratch / "report")]
            sample = run_child(argv)
            samples[name].append(sample)
            print(f"{scale} run {run + 1}/{runs} {name:8s} {sample[0]:7.2f} s  CPU {sample[3]:7.2f} s"
                  f"  peak RSS {sample[1] / 2**20:6.0f} MB (tree {sample[2] / 2**20:.0f} MB)", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    floor = statistics.median(s[0] for s in samples["floor"])
    migrate = statistics.median(s[0] for s in samples["migrate"])
    floor_cpu = statistics.median(s[3] for s in samples["floor"])
    migrate_cpu = statistics.median(s[3] for s in samples["migrate"])
    moved = rows + records
    return {
        "scale": scale, "seed": seed, "runs": runs, "source_rows": rows, "json_records": records,
        "source_bytes": db.stat().st_size, "json_bytes": usage.stat().st_size if usage.exists() else 0,
        "floor_seconds": round(floor, 3), "migrate_seconds": round(migrate, 3), "ratio": round(migrate / floor, 3),
        "floor_cpu_seconds": round(floor_cpu, 3), "migrate_cpu_seconds": round(migrate_cpu, 3),
        "cpu_ratio": round(migrate_cpu / floor_cpu, 3),
        "migrate_cores_busy": round(statistics.median(s[3] / s[0] for s in samples["migrate"]), 2),
        "migrate_rows_per_second": round(moved / migrate), "floor_rows_per_second": round(moved / floor),
        "migrate_peak_rss_mb": round(max(s[1] for s in samples["migrate"]) / 2**20, 1),
        "migrate_peak_tree_rss_mb": round(max(s[2] for s in samples["migrate"]) / 2**20, 1),
        "floor_peak_rss_mb": round(max(s[1] for s in samples["floor"]) / 2**20, 1),
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", action="append", help="heavy (default), heavy:0.5, heavy:2, ... (repeatable)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = [measure(scale, args.seed, args.runs, args.out) for scale in args.scale or ["heavy"]]
    print()
    print(f"{'scale':<10} {'rows+records':>13} {'floor s':>8} {'migrate s':>9} {'ratio':>6} {'rows/s':>9} "
          f"{'µs/row':>7} {'peak MB':>8} {'tree MB':>8} {'floor CPU':>9} {'CPU s':>7} {'CPU x':>6} {'cores':>6}")
    for r in results:
        moved = r["source_rows"] + r["json_records"]
        print(f"{r['scale']:<10} {moved:>13,} {r['floor_seconds']:>8.2f} {r['migrate_seconds']:>9.2f} {r['ratio']:>6.2f} "
              f"{r['migrate_rows_per_second']:>9,} {r['migrate_seconds'] / moved * 1e6:>7.2f} "
              f"{r['migrate_peak_rss_mb']:>8.0f} {r['migrate_peak_tree_rss_mb']:>8.0f} "
              f"{r['floor_cpu_seconds']:>9.2f} {r['migrate_cpu_seconds']:>7.2f} {r['cpu_ratio']:>6.2f} "
              f"{r['migrate_cores_busy']:>6.2f}")
        path = args.out / f"migrate_vs_floor-{r['scale'].replace(':', '-')}.json"
        path.write_text(json.dumps(r, indent=2) + "\n")
        print(f"  written: {path}")


if __name__ == "__main__":
    main()
