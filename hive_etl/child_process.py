"""Child processes that work beside the pipeline on the machine's other core.

Two kinds run this way: the expectation suites (hive_etl/checks/suite_worker.py) and the
usage file's staging (hive_etl/extract/usage_file.py). Each is `python -m <module>
REQUEST.json RESULT.json`: the request says what to do, the result says what came of it.
A child can be told to wait for another's result file before it starts its work
(`await_file`), so that two of them share the second core one after the other, and may
take later requests, each with its own request and result file (`send`, `answer`).
Its stderr goes to a log file, not a pipe, so a chatty child never blocks; on Linux the
child is killed with its parent, so a killed migration leaves nothing running.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REQUEST_POLL_SECONDS = 0.02


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to kill it when the migration process dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Child:
    """One child process, started with its request; `result()` waits for it to exit and
    reads its answer, `answer()` reads one as soon as it is written."""

    def __init__(self, module: str, request: dict, folder: Path, name: str):
        self.request, self.result_path = folder / f"{name}-request.json", folder / f"{name}-result.json"
        self.log = folder / f"{name}.log"
        write_whole(self.request, json.dumps(request))
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, str(self.request), str(self.result_path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)

    def send(self, request: dict, path: Path) -> None:
        """Hand the child a later request, at `path` (it appears whole)."""
        write_whole(path, json.dumps(request))

    def running(self) -> bool:
        return self.process.poll() is None

    def result(self):
        """The child's answer (parsed JSON), or None when it failed; then `last_words()` says why."""
        if self.process.wait() != 0 or not self.result_path.exists():
            return None
        return json.loads(self.result_path.read_text(encoding="utf-8"))

    def answer(self, path: Path):
        """The answer the child writes to `path` (parsed JSON), once written, without waiting
        for it to exit (it may go on to another request); None when it exits without one."""
        while not path.exists() and self.process.poll() is None:
            time.sleep(REQUEST_POLL_SECONDS)
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def last_words(self) -> str:
        lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return (lines or ["no output"])[-1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def write_whole(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader polling for the file never sees it in part."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def collect_less(gen0: int = 10_000) -> None:
    """In a child that streams millions of records: freeze what it has imported (it lives until
    the exit) and run the cycle collector's youngest generation every `gen0` allocations
    instead of every 700. Records, rows and batches are trees that refcounting frees the
    moment they are done with; at the default pace the collector ran 5,200 times on half the
    heavy install, 39 of them full collections through every imported module's objects, for
    0.63-0.71 s of the usage file child's CPU and nothing found (0.01 s this way). Cycles
    (an exception's traceback, say) are still collected, a little later."""
    gc.freeze()
    gc.set_threshold(gen0, *gc.get_threshold()[1:])


def exit_at_once() -> None:
    """End a child whose answer is written, without the interpreter's teardown: the parent
    waits for the exit, and tearing down what the suites' child has imported takes half a
    second (measured on the heavy install: 0.55 s from the last answer to the exit, 15 ms
    this way). Nothing is left to close by then: the answer is a whole file, the databases
    were opened read-only or are closed, the sidecar files are closed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def await_file(path: Path) -> None:
    """In a child: return once `path` exists (a request, another child's result). Exits if
    the parent goes away first (where the kernel does not kill the child with it)."""
    parent = os.getppid()
    while not path.exists():
        if os.getppid() != parent:
            raise SystemExit(1)
        time.sleep(REQUEST_POLL_SECONDS)


def await_request(path: Path) -> dict:
    """In a child: its request, once the parent has sent it (it appears whole: `Child.send`)."""
    await_file(path)
    return json.loads(path.read_text(encoding="utf-8"))
