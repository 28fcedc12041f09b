"""Importing Great Expectations: analytics off, and the libraries it loads only for
expectations no suite here uses (scipy, altair) deferred until something touches them.

`import great_expectations` registers every core expectation, and two of them, the
distribution ones (KL divergence and its kin), import scipy.stats and altair at module level:
more than half of the library's 2.2 s import, for code no suite in expectations/ runs.
While the library is imported those two are imported through importlib's LazyLoader: the
module objects exist, but each module's body runs on the first attribute access, as a plain
import would have run it. A suite that did use a distribution expectation would still work
(the first access loads the module); one that does not never pays for them. The finder
is on `sys.meta_path` only during the import, so nothing imported afterwards is affected.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import threading

DEFERRED = ("scipy", "altair")   # top-level packages the library imports for unused expectations

_lock = threading.Lock()


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds DEFERRED modules as the other finders would, with their loader made lazy."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in DEFERRED:
            return None
        spec = next((s for s in (_find(f, name, path, target) for f in sys.meta_path if f is not self) if s), None)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def _find(finder, name, path, target):
    find_spec = getattr(finder, "find_spec", None)
    return find_spec(name, path, target) if find_spec else None


def import_gx():
    """The `great_expectations` module, imported once, analytics off (nothing may leave the
    machine), with DEFERRED packages loaded only when used."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    with _lock:          # the suites child imports in a thread; a caller meanwhile waits for it to finish
        finder = _DeferringFinder()
        sys.meta_path.insert(0, finder)
        try:
            import great_expectations as gx
        finally:
            sys.meta_path.remove(finder)
    return gx
