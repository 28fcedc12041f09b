"""The usage file (usage-monitor.json) staged in a child process, beside the table loads.

A heavy user's usage file holds a million records or more; reading it is Python work (about
20 s), while loading the database's tables is SQLite work on the other core. So the
pipeline starts

    python -m hive_etl.extract.usage_file REQUEST.json RESULT.json

after the small JSON files are staged (`extract.start_usage_file`), and awaits it after the
tables are loaded (`extract.usage_file`). The child stages the records into the `usage_records`
table of the same `json.db` (nobody else has it open until the await), in key order, as
hive_etl/extract/json_staging.py stages any file, with one exception: the await marks that
the pipeline is waiting (a file), and a child that finds the mark once it has read the file
leaves the records in the order it read them and the pipeline sorts them (`order_arrivals`).
So the 1-3 s sort goes to whichever side would otherwise wait: to the child when it is done
reading first (the pipeline is the run's length then), to the pipeline when it is already
waiting (the child's core then goes at once to the source suites, which follow the child).
The child writes its quarantine and archive records to its own files and reports its counts;
the await adopts them, attaches `json.db` to the build and gives the model ids the file names
their catalog rows. A broken file is exit 2, as when read in-process; nothing is swapped in.
The child tells how many bytes it has read in a small progress file, so the await can draw a
bar while it still waits.
A pipeline that lists only the await stages the file there, in-process.
"""

from __future__ import annotations

import json
import signal
import struct
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from ..child_process import Child, exit_at_once, write_whole
from ..context import RunContext, SourceCounts
from ..errors import BadInput, HiveEtlError
from ..load.sidecars import Sidecars
from ..sqlite_files import file_uri
from .json_staging import BIG_FILE, order_arrivals, stage_files
from .legacy_json import find_json_sources


class _Bytes:
    """The child's bar: the bytes read, written to a progress file (8 bytes, overwritten)."""

    def __init__(self, path: Path):
        self.file, self.done = path.open("wb", buffering=0), 0.0

    def update(self, done: float, note: str | None = None) -> None:
        self.done = done
        self.file.seek(0)
        self.file.write(struct.pack("<q", int(done)))

    def close(self) -> None:
        self.file.close()


class UsageFileInChild:
    """The usage file being staged by a child process; `wait()` returns its result."""

    def __init__(self, ctx: RunContext, path: Path):
        self.path, self.size = path, path.stat().st_size
        self.progress = ctx.work_dir / "usage-progress"
        self.awaited = ctx.work_dir / "usage-awaited"   # the pipeline is waiting: the child leaves the sort to it
        self.child = Child("hive_etl.extract.usage_file",
                           {"path": str(path), "json_db": str(ctx.json_path),
                            "sidecars": str(ctx.work_dir / "usage-sidecars"), "progress": str(self.progress),
                            "awaited": str(self.awaited)},
                           ctx.work_dir, "usage")
        self.result_path = self.child.result_path   # appears when the child is done (others may wait for it)

    def _bytes_read(self) -> int:
        try:
            return struct.unpack("<q", self.progress.read_bytes()[:8])[0]
        except (OSError, struct.error):
            return 0

    def wait(self, ctx: RunContext) -> dict:
        self.awaited.touch()
        if self.child.running():
            bar = ctx.bar("legacy JSON", self.size, "bytes")
            while self.child.running():
                bar.update(self._bytes_read(), self.path.name)
                time.sleep(0.2)
            bar.close()
        result = self.child.result()
        if result is None:
            raise HiveEtlError(f"{self.path} could not be read: {self.child.last_words()}")
        return result

    def stop(self) -> None:
        self.child.stop()


def start_usage_file(ctx: RunContext) -> None:
    path = find_json_sources(ctx.home).get(BIG_FILE)
    if path is not None:
        ctx.background["usage_file"] = UsageFileInChild(ctx, path)


def await_usage_file(ctx: RunContext) -> None:
    """Stage the usage file (or collect the child that did), then attach json.db to the build."""
    job = ctx.background.pop("usage_file", None)
    if job is not None:
        result = job.wait(ctx)
        if "error" in result:
            raise BadInput(result["error"])
        for name, counts in result["sources"].items():
            ctx.sources[name] = SourceCounts(**counts)
        ctx.credits.extend(result["credits"])
        ctx.credit_sources.extend(result["credit_sources"])
        ctx.sidecars.adopt({kind: [Path(p) for p in paths] for kind, paths in result["files"].items()})
        order_arrivals(ctx, result["unsorted"])
    elif (path := find_json_sources(ctx.home).get(BIG_FILE)) is not None:
        bar = ctx.bar("legacy JSON", path.stat().st_size, "bytes")
        stage_files(ctx, {BIG_FILE: path}, bar)
        bar.close()
    conn = ctx.conn
    if conn.in_transaction:
        conn.execute("COMMIT")   # ATTACH cannot run inside a transaction
    conn.execute("ATTACH DATABASE ? AS json", (file_uri(ctx.json_path),))
    conn.execute("BEGIN")


def main(argv: list[str]) -> None:
    """The child: stage the file, write counts, credits and the sidecar files produced."""
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    ctx = RunContext(source=Path(request["path"]), target=Path(request["json_db"]), home=Path("."),
                     report_dir=Path("."), now=datetime.now(timezone.utc))
    ctx.json_path = Path(request["json_db"])
    ctx.sidecars = Sidecars(Path(request["sidecars"]))
    bar = _Bytes(Path(request["progress"]))
    try:
        awaited = Path(request["awaited"])
        unsorted = stage_files(ctx, {BIG_FILE: Path(request["path"])}, bar, leave_unsorted=awaited.exists)
        result = {"sources": {name: c.as_dict() for name, c in ctx.sources.items()}, "credits": ctx.credits,
                  "credit_sources": ctx.credit_sources, "unsorted": unsorted,
                  "files": {kind: [str(p) for p in paths] for kind, paths in ctx.sidecars.close().items()}}
    except BadInput as exc:
        result = {"error": str(exc)}
    bar.close()
    write_whole(Path(argv[1]), json.dumps(result))


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides when to stop
    main(sys.argv[1:])
    exit_at_once()
