"""Where the declarative files live: `pipelines/` and `expectations/`.

In a checkout they are the top-level folders of the repository; an installed wheel carries
them inside the package as `hive_etl/_data/`. Code asks here, never builds the path itself.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder `name` ("pipelines" or "expectations"), installed or in the checkout."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"hive-etl data folder {name!r} not found beside the package")


@cache
def pipeline_file(name: str) -> dict:
    """A parsed YAML file from `pipelines/`, e.g. pipeline_file("tables.yaml")."""
    with open(data_dir("pipelines") / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)
