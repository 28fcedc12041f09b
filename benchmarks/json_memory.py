"""Memory and speed of reading a large usage-monitor.json: the streaming reader against json.load.

    .venv/bin/python benchmarks/json_memory.py [--records 1000000] [--keep]

Writes a wrapped usage-monitor.json ({"version", "lastUpdated", "records": [...]}, pretty-printed
the way JSON.stringify(data, null, 2) does) of realistic records to a temporary folder, then, each
in a fresh child process so that peak RSS is that reader's alone:

- floor:     the interpreter with hive_etl.extract.legacy_json imported, reading nothing;
- stream:    every item of read_json_source("usage_monitor", path), counted (parsed, normalised,
             ids computed), nothing kept;
- json.load: the whole file loaded with json.load (no normalisation at all), the baseline.

Prints records/s and peak RSS (resource.getrusage(RUSAGE_SELF).ru_maxrss in each child, with
/proc's VmHWM beside it) per reader and the ratio of the peaks. The file is written by a child
too, so that the parent stays small (Linux carries ru_maxrss over fork and exec). The temporary
folder is removed unless --keep.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = ("anthropic/claude-3.5-sonnet", "openai/gpt-4o", "openai/gpt-4o-mini", "google/gemini-flash-1.5",
          "meta-llama/llama-3.1-70b-instruct", "deepseek/deepseek-chat", "anthropic/claude-3-haiku")
BASE_EPOCH = 1704067200   # 2024-01-01T00:00:00Z


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _iso(ms: int) -> str:
    sec, milli = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{milli:03d}Z"


def write_usage_file(path: Path, records: int, seed: int = 1) -> None:
    """A wrapped usage-monitor.json of `records` plausible records (a third without id)."""
    rng = random.Random(seed)
    users = [_uuid(rng) for _ in range(3)]
    conversations = [_uuid(rng) for _ in range(max(1, records // 6))]
    with open(path, "w", encoding="utf-8") as out:
        out.write('{\n  "version": 2,\n  "lastUpdated": "2025-06-30T23:59:00.000Z",\n  "records": [\n')
        for i in range(records):
            ms = (BASE_EPOCH + rng.randrange(0, 547 * 86400)) * 1000 + rng.randrange(1000)
            tin, tout = rng.randrange(20, 6000), rng.randrange(10, 4000)
            rec = {}
            if rng.random() < 0.67:
                rec["id"] = _uuid(rng)
            rec["timestamp"] = _iso(ms) if rng.random() < 0.7 else ms
            rec["conversationId"] = rng.choice(conversations)
            rec["userId"] = rng.choice(users)
            rec["model"] = rng.choice(MODELS)
            rec["action"] = "model_call" if rng.random() < 0.8 else "conversation"
            rec["inputTokens"] = tin
            rec["outputTokens"] = tout
            rec["cost"] = round(tin * 0.000003 + tout * 0.000015, 7)
            text = json.dumps(rec, indent=2).replace("\n", "\n    ")
            out.write(("    " if i == 0 else ",\n    ") + text)
        out.write("\n  ]\n}\n")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def high_water_mib() -> float | None:
    """VmHWM from /proc (Linux): the same peak, counted for this address space only."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def child(mode: str, path: str) -> None:
    if mode == "write":
        records, target = path.split(":", 1)
        write_usage_file(Path(target), int(records))
        return
    from hive_etl.extract.legacy_json import JsonRow, read_json_source   # imported in every mode: same floor

    start = time.perf_counter()
    rows = quarantined = 0
    if mode == "stream":
        for item in read_json_source("usage_monitor", Path(path)):
            if isinstance(item, JsonRow):
                rows += 1
            else:
                quarantined += 1
    elif mode == "json.load":
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
        rows = len(doc["records"])
    elapsed = time.perf_counter() - start
    print(json.dumps({"mode": mode, "rows": rows, "quarantined": quarantined, "seconds": elapsed,
                      "peak_rss_mib": peak_rss_mib(), "vm_hwm_mib": high_water_mib()}))


def run_child(mode: str, path) -> dict | None:
    # Linux carries ru_maxrss over fork and exec, so children are started from this small parent
    # (which writes nothing itself): each child's figure is then its own peak.
    done = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True,
                          check=True)
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder and its file")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    folder = Path(tempfile.mkdtemp(prefix="hive-etl-json-bench-"))
    try:
        path = folder / "usage-monitor.json"
        start = time.perf_counter()
        run_child("write", f"{args.records}:{path}")
        size = path.stat().st_size
        print(f"wrote {args.records:,} records, {size / 2**20:,.1f} MiB, in {time.perf_counter() - start:.1f} s: {path}")
        results = {mode: run_child(mode, path) for mode in ("floor", "stream", "json.load")}
        print(f"{'reader':<12}{'records':>12}{'seconds':>10}{'records/s':>12}{'peak RSS MiB':>15}{'VmHWM MiB':>12}")
        for mode, r in results.items():
            count = r["rows"] + r["quarantined"]
            rate = f"{count / r['seconds']:,.0f}" if count else "-"
            hwm = f"{r['vm_hwm_mib']:.1f}" if r["vm_hwm_mib"] is not None else "-"
            print(f"{mode:<12}{count:>12,}{r['seconds']:>10.2f}{rate:>12}{r['peak_rss_mib']:>15.1f}{hwm:>12}")
        stream, loaded, floor = results["stream"], results["json.load"], results["floor"]
        assert stream["rows"] + stream["quarantined"] == args.records == loaded["rows"]
        print(f"peak RSS json.load / stream: {loaded['peak_rss_mib'] / stream['peak_rss_mib']:.1f}x "
              f"(above the {floor['peak_rss_mib']:.1f} MiB floor: "
              f"{loaded['peak_rss_mib'] - floor['peak_rss_mib']:,.1f} MiB against "
              f"{stream['peak_rss_mib'] - floor['peak_rss_mib']:,.1f} MiB)")
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
