"""Run expectation suites in a child process, so the pipeline never holds Great Expectations.

Importing Great Expectations costs about 2 s and 250 MB, more than a whole migration's
working set. The pipeline's expectation stages therefore start

    python -m hive_etl.checks.suite_worker REQUEST.json RESULT.json

where the request names the database, the suites, the parameters and whether the file is
immutable, and read plain outcomes back. Memory of the migration process stays flat; the
child's is the library's own. (`--data-docs` needs Great Expectations' result objects and
runs the suites in the pipeline's process instead.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..errors import HiveEtlError


def run_in_child(db_path: Path, suites: list[str], parameters: dict | None, immutable: bool | None, folder: Path) -> list:
    """The outcomes of `suites` on `db_path`, computed in a child process."""
    from .expectations import ExpectationOutcome, SuiteOutcome

    request, result = folder / "suites-request.json", folder / "suites-result.json"
    request.write_text(json.dumps({"db": str(db_path), "suites": suites, "parameters": parameters or {},
                                   "immutable": immutable}), encoding="utf-8")
    child = subprocess.run([sys.executable, "-m", "hive_etl.checks.suite_worker", str(request), str(result)],
                           capture_output=True, text=True)
    if child.returncode != 0 or not result.exists():
        last = (child.stderr.strip().splitlines() or ["no output"])[-1]
        raise HiveEtlError(f"expectation suites {', '.join(suites)[:80]} could not run on {db_path}: {last}")
    outcomes = []
    for suite in json.loads(result.read_text(encoding="utf-8")):
        results = [ExpectationOutcome(**{k: v for k, v in r.items() if k != "status"}) for r in suite["results"]]
        outcomes.append(SuiteOutcome(suite["suite"], results, suite["seconds"]))
    return outcomes


def main(argv: list[str]) -> None:
    from .expectations import run_suites

    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    outcomes = run_suites(Path(request["db"]), request["suites"], request["parameters"], immutable=request["immutable"])
    Path(argv[1]).write_text(json.dumps([o.as_dict() for o in outcomes]), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
