"""Load the schema facts shipped beside this module: the Rust-era target and the TypeScript-era source."""

import functools
import json
from pathlib import Path

SCHEMA_VERSION = 13

_HERE = Path(__file__).parent


def _load(filename: str) -> dict:
    return json.loads((_HERE / filename).read_text(encoding="utf-8"))


@functools.cache
def target_spec() -> dict:
    """The facts of target_schema.json (shared, cached: do not mutate)."""
    return _load("target_schema.json")


@functools.cache
def source_spec() -> dict:
    """The facts of source_schema.json (shared, cached: do not mutate)."""
    return _load("source_schema.json")
