"""Child processes that work beside the pipeline on the machine's other core.

Two kinds run this way: the expectation suites (hive_etl/checks/suite_worker.py) and the
usage file's staging (hive_etl/extract/usage_file.py). Each is `python -m <module>
REQUEST.json RESULT.json`: the request says what to do, the result says what came of it.
Its stderr goes to a log file, not a pipe, so a chatty child never blocks; on Linux the
child is killed with its parent, so a killed migration leaves nothing running.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to kill it when the migration process dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Child:
    """One child process started with a request; `result()` waits and reads its answer."""

    def __init__(self, module: str, request: dict, folder: Path, name: str):
        self.request, self.result_path = folder / f"{name}-request.json", folder / f"{name}-result.json"
        self.log = folder / f"{name}.log"
        self.request.write_text(json.dumps(request), encoding="utf-8")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", module, str(self.request), str(self.result_path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)

    def running(self) -> bool:
        return self.process.poll() is None

    def result(self):
        """The child's answer (parsed JSON), or None when it failed; then `last_words()` says why."""
        if self.process.wait() != 0 or not self.result_path.exists():
            return None
        return json.loads(self.result_path.read_text(encoding="utf-8"))

    def last_words(self) -> str:
        lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        return (lines or ["no output"])[-1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
