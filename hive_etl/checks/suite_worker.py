"""Run expectation suites in a child process, so the pipeline never holds Great Expectations.

Importing Great Expectations costs about 2.2 s and 250 MB (1.2-1.4 s and 170 MB as
gx_import.py imports it, with what no suite uses deferred), close to a whole migration's
working set. The pipeline's expectation stages therefore start

    python -m hive_etl.checks.suite_worker REQUEST.json RESULT.json

where the request names the database, the suites, the parameters and whether the file is
immutable, and read plain outcomes back. Memory of the migration process stays flat; the
child's is the library's own. The child runs beside the pipeline, on the machine's other
core (pipelines/migrate.yaml says where each suite set starts and where it is awaited).
A request may tell the child to follow another (`after`): the source suites start as soon
as the usage file's child is done, whatever stage the pipeline is at; meanwhile the child
imports the library in a thread at the lowest CPU priority, on what time the busy cores
leave over (at half the heavy scale the suites are the run's last step, and the import's
2 s does not shrink with the data: alternating runs 14.7 -> 14.1 s there, no change on
heavy). It may also say that one more request will follow (`then`): the source
suites' child stays, library loaded, and runs the target suite when the pipeline hands it
that request (`SuitesInChild.following()`), so a migration imports the library once.
(`--data-docs` needs Great Expectations' result objects and runs the suites in the
pipeline's process instead.)
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

from ..child_process import Child, await_file, await_request, exit_at_once, write_whole
from ..errors import HiveEtlError


def suites_request(db_path: Path, suites: list[str], parameters: dict | None, immutable: bool | None,
                   after: Path | None = None) -> dict:
    """What a suites child is asked to run; with `after`, a file another child writes when it
    is done, the child waits for that file before it loads the library and starts."""
    return {"db": str(db_path), "suites": suites, "parameters": parameters or {}, "immutable": immutable,
            "after": str(after) if after else None}


class SuitesInChild:
    """A child process for expectation suites (`suites_request`), on another core, started at
    once; `outcomes()` waits for them, `stop()` abandons them. With `then`, the child stays
    after these suites for one more request, handed to `following()`."""

    waiting = False   # started with its request

    def __init__(self, folder: Path, name: str, request: dict, then: str | None = None):
        self.next = (folder / f"suites-{then}-request.json", folder / f"suites-{then}-result.json") if then else None
        if self.next:
            request = {**request, "then": {"request": str(self.next[0]), "result": str(self.next[1])}}
        self.request = request
        self.child = Child("hive_etl.checks.suite_worker", request, folder, f"suites-{name}")
        self.result_path = self.child.result_path

    def outcomes(self) -> list:
        return _outcomes(self.child.answer(self.result_path), self.request, self.child)

    def following(self) -> "NextRequest":
        """The request this child takes after the current one (it must have been made with `then`)."""
        return NextRequest(self.child, *self.next)

    def stop(self) -> None:
        self.child.stop()


class NextRequest:
    """The later request of a suites child that stays for one (`SuitesInChild(then=...)`):
    waiting until `run()` hands it its suites; otherwise used as a SuitesInChild is."""

    def __init__(self, child: Child, request_path: Path, result_path: Path):
        self.child, self.request_path, self.result_path = child, request_path, result_path
        self.request: dict | None = None

    @property
    def waiting(self) -> bool:
        return self.request is None

    def run(self, request: dict) -> None:
        self.request = request
        self.child.send(request, self.request_path)

    def outcomes(self) -> list:
        if self.waiting:   # it would wait for its request for ever
            self.child.stop()
        return _outcomes(self.child.answer(self.result_path), self.request, self.child)

    def stop(self) -> None:
        self.child.stop()


def _outcomes(result: list | None, request: dict | None, child: Child) -> list:
    """The plain outcomes of a child's answer; an error naming the suites when it gave none.
    After its last answer the child exits: it is waited for (so it leaves no zombie, and its
    resource usage, peak memory included, counts among this process's children)."""
    from .expectations import ExpectationOutcome, SuiteOutcome

    if not (request or {}).get("then"):
        child.process.wait()
    if result is None:
        request = request or {"suites": [], "db": "(never sent)"}
        raise HiveEtlError(f"expectation suites {', '.join(request['suites'])[:80]} could not run on "
                           f"{request['db']}: {child.last_words()}")
    outcomes = []
    for suite in result:
        results = [ExpectationOutcome(**{k: v for k, v in r.items() if k != "status"}) for r in suite["results"]]
        outcomes.append(SuiteOutcome(suite["suite"], results, suite["seconds"]))
    return outcomes


def _import_at_lowest_priority() -> None:
    """Import the library in a thread at the lowest CPU priority (Linux nice 19, per thread),
    so it takes only the time the busy cores leave over while this child waits for its turn;
    whatever is left of it when the other child is done finishes on the core that child
    frees (gx_import's lock makes the suites wait for it)."""
    from .gx_import import import_gx

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        return                                 # no per-thread priority here: import when needed
    try:
        import_gx()
    except Exception:  # noqa: BLE001 - the suites import it again and report what fails
        pass


def main(argv: list[str]) -> None:
    from .expectations import run_suites

    request_path, result_path = Path(argv[0]), Path(argv[1])
    while True:
        request = await_request(request_path)
        if request.get("after"):
            threading.Thread(target=_import_at_lowest_priority, daemon=True).start()
            await_file(Path(request["after"]))     # the other child is done: the core is free
        outcomes = run_suites(Path(request["db"]), request["suites"], request["parameters"],
                              immutable=request["immutable"])
        write_whole(result_path, json.dumps([o.as_dict() for o in outcomes]))
        if not request.get("then"):
            return
        request_path, result_path = Path(request["then"]["request"]), Path(request["then"]["result"])


if __name__ == "__main__":
    main(sys.argv[1:])
    exit_at_once()
