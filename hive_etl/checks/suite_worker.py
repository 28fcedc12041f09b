"""Run expectation suites in a child process, so the pipeline never holds Great Expectations.

Importing Great Expectations costs about 2 s and 250 MB, more than a whole migration's
working set. The pipeline's expectation stages therefore start

    python -m hive_etl.checks.suite_worker REQUEST.json RESULT.json

where the request names the database, the suites, the parameters and whether the file is
immutable, and read plain outcomes back. Memory of the migration process stays flat; the
child's is the library's own. The child runs beside the pipeline, on the machine's other
core: the source suites once the usage file's child is done (beside the table and JSON
loads), the target suite while the post-load checks run (pipelines/migrate.yaml says where
each starts and where its outcome is awaited).
A child can be started before its database is complete (`SuitesInChild` without a request,
`run` later): it imports the library while the pipeline works, and starts on the request
(the optional `checks.warm_target_expectations` stage). A child started with its request may be told to follow another (`after`): the
source suites start as soon as the usage file's child is done, whatever stage the pipeline
is at, and load their library only then.
(`--data-docs` needs Great Expectations' result objects and runs the suites in the
pipeline's process instead.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..child_process import Child, await_file, await_request
from ..errors import HiveEtlError


def suites_request(db_path: Path, suites: list[str], parameters: dict | None, immutable: bool | None,
                   after: Path | None = None) -> dict:
    """What a suites child is asked to run; with `after`, a file another child writes when it
    is done, the child waits for that file before it loads the library and starts."""
    return {"db": str(db_path), "suites": suites, "parameters": parameters or {}, "immutable": immutable,
            "after": str(after) if after else None}


class SuitesInChild:
    """A child process for expectation suites, on another core, started at once: with its
    request (`suites_request`) it runs the suites; without one it loads Great Expectations and
    waits for `run()`. `outcomes()` waits for them, `stop()` abandons them."""

    def __init__(self, folder: Path, name: str, request: dict | None = None):
        self.request = request
        self.child = Child("hive_etl.checks.suite_worker", request, folder, f"suites-{name}")

    @property
    def waiting(self) -> bool:
        """Started, but not yet told what to run."""
        return not self.child.sent

    def run(self, request: dict) -> None:
        """Hand a child started without a request its suites."""
        self.request = request
        self.child.send(request)

    def outcomes(self) -> list:
        from .expectations import ExpectationOutcome, SuiteOutcome

        result = self.child.result()
        if result is None:
            request = self.request or {"suites": [], "db": "(never sent)"}
            raise HiveEtlError(f"expectation suites {', '.join(request['suites'])[:80]} could not run on "
                               f"{request['db']}: {self.child.last_words()}")
        outcomes = []
        for suite in result:
            results = [ExpectationOutcome(**{k: v for k, v in r.items() if k != "status"}) for r in suite["results"]]
            outcomes.append(SuiteOutcome(suite["suite"], results, suite["seconds"]))
        return outcomes

    def stop(self) -> None:
        self.child.stop()


def main(argv: list[str]) -> None:
    from .expectations import load_library, run_suites

    request_path = Path(argv[0])
    if not request_path.exists():              # warmed up: load the library while the parent works
        load_library()
    request = await_request(request_path)
    if request.get("after"):
        await_file(Path(request["after"]))     # the other child is done: the core is free
    outcomes = run_suites(Path(request["db"]), request["suites"], request["parameters"], immutable=request["immutable"])
    Path(argv[1]).write_text(json.dumps([o.as_dict() for o in outcomes]), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
