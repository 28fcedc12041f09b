"""Benchmark: `hive-etl migrate` against the SQLite copy floor, on one generated install.

    python benchmarks/migrate_vs_floor.py [--scale heavy] [--runs 3] [--out benchmarks/out]

In one run, on the same generated install (cached under --out), round-robin:
  (a) the floor: a pure-SQL copy of the same tables into the same v13 schema (ATTACH,
      INSERT OR IGNORE ... SELECT of the shared columns, integer model references through a
      JOIN to a map table, journal and sync off, indexes built after the data);
  (b) `hive-etl migrate` with every check on, to a new target.
Each is a child process; its wall time and peak RSS (wait4) are recorded. Prints medians,
the ratio (b)/(a), throughput in source rows/s and peak memory, and writes them as JSON.
Nothing here is asserted: these machines are shared, so figures are for reading.
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
source, target = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(target, isolation_level=None)
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
create_indexes(conn)
conn.close()
"""


def run_child(argv: list[str]) -> tuple[float, int, str]:
    """(seconds, peak RSS in bytes, stderr) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    stderr = child.stderr.read()
    child.stderr.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({child.returncode}): {stderr.strip()[-500:]}")
    return seconds, usage.ru_maxrss * 1024, stderr


def ensure_install(out: Path, scale: str, seed: int) -> Path:
    home = out / f"install-{scale}-{seed}"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="heavy")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    home = ensure_install(args.out, args.scale, args.seed)
    db = home / ".hive" / "hive-ai.db"
    rows = source_rows(db)
    scratch = args.out / "scratch"
    samples: dict[str, list[tuple[float, int]]] = {"floor": [], "migrate": []}
    for run in range(args.runs):
        for name in ("floor", "migrate"):
            if scratch.exists():
                shutil.rmtree(scratch)
            scratch.mkdir()
            target = scratch / "hive-ai.db"
            if name == "floor":
                argv = [sys.executable, "-c", FLOOR_SCRIPT, str(db), str(target)]
            else:
                argv = [sys.executable, "-m", "hive_etl", "migrate", "--home", str(home), "--target", str(target),
                        "--report-dir", str(scratch / "report")]
            seconds, rss, _ = run_child(argv)
            samples[name].append((seconds, rss))
            print(f"run {run + 1}/{args.runs} {name:8s} {seconds:7.2f} s  peak RSS {rss / 2**20:6.0f} MB", flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    floor = statistics.median(s for s, _ in samples["floor"])
    migrate = statistics.median(s for s, _ in samples["migrate"])
    result = {
        "scale": args.scale, "seed": args.seed, "runs": args.runs, "source_rows": rows,
        "source_bytes": db.stat().st_size,
        "floor_seconds": round(floor, 3), "migrate_seconds": round(migrate, 3), "ratio": round(migrate / floor, 3),
        "migrate_rows_per_second": round(rows / migrate), "floor_rows_per_second": round(rows / floor),
        "migrate_peak_rss_mb": round(max(r for _, r in samples["migrate"]) / 2**20, 1),
        "floor_peak_rss_mb": round(max(r for _, r in samples["floor"]) / 2**20, 1),
        "samples": samples,
    }
    print(f"\nsource: {rows:,} rows, {db.stat().st_size / 2**20:,.0f} MB ({args.scale}, seed {args.seed})")
    print(f"floor   median {floor:7.2f} s  {result['floor_rows_per_second']:>10,} rows/s  peak {result['floor_peak_rss_mb']:.0f} MB")
    print(f"migrate median {migrate:7.2f} s  {result['migrate_rows_per_second']:>10,} rows/s  peak {result['migrate_peak_rss_mb']:.0f} MB")
    print(f"ratio migrate/floor: {result['ratio']:.2f}")
    path = args.out / f"migrate_vs_floor-{args.scale}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {path}")


if __name__ == "__main__":
    main()
