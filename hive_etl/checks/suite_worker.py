"""Run expectation suites in a child process, so the pipeline never holds Great Expectations.

Importing Great Expectations costs about 2 s and 250 MB, more than a whole migration's
working set. The pipeline's expectation stages therefore start

    python -m hive_etl.checks.suite_worker REQUEST.json RESULT.json

where the request names the database, the suites, the parameters and whether the file is
immutable, and read plain outcomes back. Memory of the migration process stays flat; the
child's is the library's own. The child runs beside the pipeline, on the machine's other
core: the source suites while the JSON files are read and the tables load, the target
suite while the post-load checks run (pipelines/migrate.yaml says where each starts and
where its outcome is awaited). (`--data-docs` needs Great Expectations' result objects and
runs the suites in the pipeline's process instead.)
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from ..errors import HiveEtlError


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, be killed when the migration process dies, so a
    killed run leaves no suite process behind."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class SuitesInChild:
    """Expectation suites running in a child process (started at once, on another core);
    `outcomes()` waits for them, `stop()` abandons them."""

    def __init__(self, db_path: Path, suites: list[str], parameters: dict | None, immutable: bool | None,
                 folder: Path, name: str):
        self.db_path, self.suites = db_path, suites
        self.request, self.result = folder / f"suites-{name}-request.json", folder / f"suites-{name}-result.json"
        self.log = folder / f"suites-{name}.log"
        self.request.write_text(json.dumps({"db": str(db_path), "suites": suites, "parameters": parameters or {},
                                            "immutable": immutable}), encoding="utf-8")
        with self.log.open("wb") as log:  # a file, not a pipe: a chatty child never blocks
            self.child = subprocess.Popen(
                [sys.executable, "-m", "hive_etl.checks.suite_worker", str(self.request), str(self.result)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)

    def outcomes(self) -> list:
        from .expectations import ExpectationOutcome, SuiteOutcome

        if self.child.wait() != 0 or not self.result.exists():
            lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            raise HiveEtlError(f"expectation suites {', '.join(self.suites)[:80]} could not run on {self.db_path}: "
                               f"{(lines or ['no output'])[-1]}")
        outcomes = []
        for suite in json.loads(self.result.read_text(encoding="utf-8")):
            results = [ExpectationOutcome(**{k: v for k, v in r.items() if k != "status"}) for r in suite["results"]]
            outcomes.append(SuiteOutcome(suite["suite"], results, suite["seconds"]))
        return outcomes

    def stop(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()


def main(argv: list[str]) -> None:
    from .expectations import run_suites

    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    outcomes = run_suites(Path(request["db"]), request["suites"], request["parameters"], immutable=request["immutable"])
    Path(argv[1]).write_text(json.dumps([o.as_dict() for o in outcomes]), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
