"""Importing Great Expectations: analytics off, the libraries it loads only for
expectations no suite here uses (scipy, altair) deferred until something touches them, and
the objects it creates kept out of the cycle collector's way.

`import great_expectations` registers every core expectation, and two of them, the
distribution ones (KL divergence and its kin), import scipy.stats and altair at module level:
more than half of the library's 2.2 s import, for code no suite in expectations/ runs.
While the library is imported those two are imported through importlib's LazyLoader: the
module objects exist, but each module's body runs on the first attribute access, as a plain
import would have run it. A suite that did use a distribution expectation would still work
(the first access loads the module); one that does not never pays for them. The finder
is on `sys.meta_path` only during the import, so nothing imported afterwards is affected.

The import creates about a million objects that live as long as the process. The cycle
collector runs during it (0.18 s of CPU, none of it finding garbage) and, afterwards, every
full collection walks them all again: 0.11 s per collection, 0.24-0.26 s of the suites'
child on half the heavy install. The collector is therefore off while the library imports,
and what exists once it is imported is frozen (`gc.freeze`: left out of later collections;
refcounting still frees any of it that dies). The suites' child spends 0.02 s collecting
instead of 0.34-0.37 s.
"""

from __future__ import annotations

import gc
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
    machine), with DEFERRED packages loaded only when used, and what the import created
    frozen out of the cycle collector's work."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    with _lock:          # the suites child imports in a thread; a caller meanwhile waits for it to finish
        if sys.modules.get("great_expectations") is not None:
            return sys.modules["great_expectations"]     # imported (and frozen) before
        finder = _DeferringFinder()
        sys.meta_path.insert(0, finder)
        collecting = gc.isenabled()
        gc.disable()
        try:
            import great_expectations as gx
        finally:
            sys.meta_path.remove(finder)
            if collecting:
                gc.enable()
        gc.freeze()
    return gx
