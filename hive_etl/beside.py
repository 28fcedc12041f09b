"""Work that runs beside the pipeline, in a thread: a function on a SQLite connection of its
own (SQLite releases the GIL while a statement runs, so the work takes the machine's other
core while the pipeline's own connection goes on), or a wait on the disk.

A stage starts it and puts it in `ctx.background`; a later stage takes it out and calls
`result()`, which waits for the answer (or raises what the work raised) and closes the
connection. A run that stops before then calls `stop()`, which interrupts the statement (work
without a connection is waited for).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


class Beside:
    """`work()` in a thread; `conn`, the connection it works on if any, is owned from here on
    (closed when done)."""

    def __init__(self, name: str, work: Callable[[], object], conn: sqlite3.Connection | None = None):
        self.conn = conn
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.future = self.pool.submit(work)

    def result(self):
        try:
            return self.future.result()
        finally:
            self._close()

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.interrupt()
        self.future.exception()          # wait for the (interrupted) work to return
        self._close()

    def _close(self) -> None:
        self.pool.shutdown()
        if self.conn is not None:
            self.conn.close()


def thread_connection(uri: str) -> sqlite3.Connection:
    """A connection (by URI) that a `Beside` thread may use."""
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10, check_same_thread=False)
