"""Benchmark: what `hive-etl --help` pays at import, measured with `python -X importtime`.

    python benchmarks/import_time.py [--runs 5]

Prints the median cumulative import time of hive_etl.cli (the module behind the console
script) and whether great_expectations, pandas or pyarrow were imported at all, with the
import of great_expectations itself measured in the same run as the baseline it avoids.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys

LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def cumulative_us(module: str, statement: str) -> tuple[int, set[str]]:
    stderr = subprocess.run([sys.executable, "-X", "importtime", "-c", statement],
                            capture_output=True, text=True, check=True).stderr
    total, seen = 0, set()
    for self_us, cumulative, indent, name in LINE.findall(stderr):
        seen.add(name.split(".")[0])
        if name == module:
            total = int(cumulative)
    return total, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cli, seen = [], set()
    gx = []
    for _ in range(args.runs):
        us, names = cumulative_us("hive_etl.cli", "import hive_etl.cli")
        cli.append(us)
        seen |= names
        gx.append(cumulative_us("great_expectations", "import great_expectations")[0])
    heavy = sorted(n for n in ("great_expectations", "pandas", "pyarrow", "sqlalchemy") if n in seen)
    print(f"hive_etl.cli import (what --help pays): median {statistics.median(cli) / 1e6:.3f} s over {args.runs} runs")
    print(f"great_expectations import (avoided):    median {statistics.median(gx) / 1e6:.3f} s")
    print(f"heavy libraries imported by the CLI:     {', '.join(heavy) or 'none'}")
    print(f"ratio cli/great_expectations:           {statistics.median(cli) / statistics.median(gx):.3f}")


if __name__ == "__main__":
    main()
