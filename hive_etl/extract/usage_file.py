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
bar while it still waits. If SQLite fails in the child's de-duplication (below), the await
raises that failure as SQLite's, naming the step, as the pipeline's own failures are reported
(exit 3), not as a file that could not be read.

The records' de-duplication against the source's usage rows (load/legacy_json.py) goes the
same way: `transform.offer_known_usage` tells the child where the source snapshot is, and
whichever side comes to it first claims it (a file created once): the child when it has
read the file before the pipeline waits for it or lists the known rows
(`transform.known_usage`; a heavy install, where the pipeline is the longer side: 2-3 s of
its work; the child lists the known rows beside its sort, `_ChildDedup`), the pipeline
otherwise. Merging, the target's own rows are known too: the pipeline keeps it then.
A pipeline that lists only the await stages the file there, in-process.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import struct
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from ..child_process import Child, collect_less, exit_at_once, write_whole
from ..context import RunContext, SourceCounts
from ..errors import BadInput, HiveEtlError
from ..load.sidecars import Sidecars
from ..sqlite_files import file_uri
from ..transform import values
from .json_staging import BIG_FILE, open_staging, order_arrivals, stage_files
from .legacy_json import find_json_sources


OFFER, CLAIM = "usage-dedup-offer.json", "usage-dedup-claim"   # in the work folder


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
                            "awaited": str(self.awaited), "offer": str(ctx.work_dir / OFFER),
                            "claim": str(ctx.work_dir / CLAIM)},
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


def claim(path: Path, who: str) -> bool:
    """True for the first caller only (the file is created once, atomically)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, who.encode("utf-8"))
    os.close(fd)
    return True


def offer_known_usage(ctx: RunContext) -> None:
    """Tell the usage file's child where the source's usage rows are, so that it may
    de-duplicate the records itself if it is done first (not when merging: the target's rows
    are known too, and the pipeline lists them)."""
    if ctx.merge or "usage_records" not in ctx.source_columns or BIG_FILE not in find_json_sources(ctx.home):
        return
    write_whole(ctx.work_dir / OFFER, json.dumps({"source": ctx.snapshot_uri, "columns": ctx.source_columns["usage_records"]}))


def pipeline_claims_dedup(ctx: RunContext) -> bool:
    """While the usage file's child runs: whether the pipeline de-duplicates the usage records
    (False: the child has claimed it)."""
    return claim(ctx.work_dir / CLAIM, "pipeline")


class _ChildDedup:
    """The de-duplication of the records against the source's usage rows, when the child
    claims it: as soon as the file is read, if the pipeline is not waiting yet (it would take
    the sort, and the de-duplication with it) and has not claimed it. The source's usage rows
    are then listed in a thread, into a file of their own (`usage-known.db`), while the child
    sorts its records: both are SQLite work, which runs without the interpreter's lock, so the
    list (0.5 s on heavy) is made on the other core's time instead of after the sort."""

    def __init__(self, request: dict):
        self.request = request
        self.known = Path(request["json_db"]).with_name("usage-known.db")
        self.thread: threading.Thread | None = None
        self.listed: bool | BaseException = False

    def leave_unsorted(self) -> bool:
        """Asked once the file is read: True leaves the sort to the pipeline, which waits for
        it; otherwise the child sorts, and lists the known rows beside if it claims the work."""
        if Path(self.request["awaited"]).exists():
            return True
        offer = Path(self.request["offer"])
        if offer.exists() and claim(Path(self.request["claim"]), "usage file's child"):
            details = json.loads(offer.read_text(encoding="utf-8"))
            self.thread = threading.Thread(target=self._list_known, args=(details,), daemon=True)
            self.thread.start()
        return False

    def _list_known(self, details: dict) -> None:
        from ..load.legacy_json import known_usage_selects, list_known

        try:
            conn = open_staging(self.known)
            try:
                conn.execute("ATTACH DATABASE ? AS src", (details["source"],))
                values.register(conn)
                conn.execute("BEGIN")
                self.listed = list_known(conn, known_usage_selects(details["columns"], False), "main")
                conn.execute("COMMIT")
            finally:
                conn.close()
        except Exception as exc:  # noqa: BLE001 - kept for drop(), which raises it in the child's main thread
            self.listed = exc

    def drop(self) -> int | None:
        """With the records sorted: how many were dropped, or None when the child did not claim it."""
        if self.thread is None:
            return None
        from ..load.legacy_json import drop_usage_duplicates, register_usage_id

        self.thread.join()
        if isinstance(self.listed, BaseException):
            raise self.listed
        if not self.listed:
            return 0
        conn = open_staging(Path(self.request["json_db"]))
        try:
            conn.execute("ATTACH DATABASE ? AS known", (file_uri(self.known),))
            conn.execute("PRAGMA known.cache_size = -32768")   # the known rows' index is probed a million times
            register_usage_id(conn)
            conn.execute("BEGIN")
            dropped = drop_usage_duplicates(conn, "main", "known")
            conn.execute("COMMIT")
        finally:
            conn.close()
        return dropped


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
        if "dedup_error" in result:    # SQLite failed there, as it might have here: said as such
            raise sqlite3.OperationalError(f"{job.path}: its records could not be de-duplicated against the "
                                           f"source's usage rows in the usage file's child ({result['dedup_error']})")
        for name, counts in result["sources"].items():
            ctx.sources[name] = SourceCounts(**counts)
        ctx.credits.extend(result["credits"])
        ctx.credit_sources.extend(result["credit_sources"])
        ctx.sidecars.adopt({kind: [Path(p) for p in paths] for kind, paths in result["files"].items()})
        order_arrivals(ctx, result["unsorted"])
        ctx.usage_duplicates = result.get("content_duplicates")
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
    dedup = _ChildDedup(request)
    try:
        unsorted = stage_files(ctx, {BIG_FILE: Path(request["path"])}, bar, leave_unsorted=dedup.leave_unsorted)
        result = {"sources": {name: c.as_dict() for name, c in ctx.sources.items()}, "credits": ctx.credits,
                  "credit_sources": ctx.credit_sources, "unsorted": unsorted,
                  "files": {kind: [str(p) for p in paths] for kind, paths in ctx.sidecars.close().items()}}
        try:
            dropped = dedup.drop()
        except sqlite3.Error as exc:      # not the file's fault: the pipeline says what failed
            dropped, result["dedup_error"] = None, f"{type(exc).__name__}: {exc}"
        if dropped is not None:
            result["content_duplicates"] = dropped
    except BadInput as exc:
        result = {"error": str(exc)}
    bar.close()
    write_whole(Path(argv[1]), json.dumps(result))


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides when to stop
    collect_less()
    main(sys.argv[1:])
    exit_at_once()
