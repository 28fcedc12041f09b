"""Model identifiers, the central transform (contract section 4).

Pure functions decide, from the source catalog, the target catalog and every text
reference, which target `internal_id` each source model and each text id gets and why.
Nothing here touches a database; `hive_etl/load/model_catalog.py` writes the outcome.

Resolutions, as they appear in the report:
- `matched`      the canonical id is already in the target catalog: its internal_id wins
- `kept`         a new model whose own integer internal_id is free in the target
- `renumbered`   a new model whose integer internal_id is taken: the next free number
- `sha1-text`    a new model whose internal_id was 40-hex text: the next free number
- `merged`       a second source row with the same canonical id as an earlier one
- `catalog`      a text reference naming a catalog model (after canonicalisation)
- `placeholder`  a text reference naming nothing: a new inactive catalog row
Suffix and rename notes (`suffix :nitro`, `renamed from ...`) are added to the resolution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from ..resources import pipeline_file

_SHA1 = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Aliases:
    """Routing suffixes and known renames, from pipelines/model_aliases.yaml."""

    suffixes: tuple[str, ...]
    renames: dict
    unknown_provider: str

    @classmethod
    def from_data(cls, data: dict) -> "Aliases":
        renames = {str(k).strip().lower(): str(v).strip().lower() for k, v in (data.get("renames") or {}).items()}
        return cls(tuple(s.lower() for s in data.get("routing_suffixes") or ()), renames, data.get("unknown_provider", "unknown"))


@cache
def shipped_aliases() -> Aliases:
    return Aliases.from_data(pipeline_file("model_aliases.yaml"))


@dataclass(frozen=True)
class Canonical:
    id: str
    suffixes: tuple[str, ...] = ()
    renamed_from: str | None = None

    def notes(self) -> str:
        parts = [f"suffix {s}" for s in self.suffixes]
        if self.renamed_from:
            parts.append(f"renamed from {self.renamed_from}")
        return "; ".join(parts)


def canonicalise(raw: str, aliases: Aliases) -> Canonical:
    """Trim, lower-case, strip routing suffixes, apply a known rename. Never a fuzzy guess."""
    text = str(raw).strip().lower()
    suffixes: list[str] = []
    stripped = True
    while stripped:
        stripped = False
        for suffix in aliases.suffixes:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)].rstrip()
                suffixes.insert(0, suffix)
                stripped = True
    renamed_from = None
    if text in aliases.renames:
        renamed_from, text = text, aliases.renames[text]
    return Canonical(text, tuple(suffixes), renamed_from)


def id_key(value) -> str | None:
    """The lookup key of an internal_id value as stored (int, numeric text or sha1 text).

    Mirrors `ID_KEY_SQL` so that keys built here match keys computed in SQL.
    """
    if value is None or isinstance(value, bytes):
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip().lower()


def id_key_sql(col: str) -> str:
    return (
        f"CASE typeof({col}) WHEN 'integer' THEN CAST({col} AS TEXT) "
        f"WHEN 'real' THEN CASE WHEN {col} = CAST({col} AS INTEGER) THEN CAST(CAST({col} AS INTEGER) AS TEXT) "
        f"ELSE CAST({col} AS TEXT) END "
        f"WHEN 'text' THEN lower(trim({col})) ELSE NULL END"
    )


def _as_int(key: str | None) -> int | None:
    if key is not None and re.fullmatch(r"[+-]?\d+", key):
        return int(key)
    return None


@dataclass
class SourceModel:
    key: str | None          # id_key of the source internal_id
    openrouter_id: str       # as stored in the source
    rowid: int


@dataclass
class ModelDecision:
    source: str                # the text id as the source spelled it
    source_key: str | None     # id_key of the source internal_id (catalog rows); None for text references
    internal_id: int
    openrouter_id: str         # the canonical id the target row has
    resolution: str
    writes_row: bool = False   # this source catalog row is the one written to the target
    new_row: bool = False      # a catalog row the target did not have (kept/renumbered/sha1/placeholder)
    kind: str = "reference"    # "catalog": a source openrouter_models row; "reference": a text id

    def as_report(self) -> dict:
        return {"source": self.source, "source_internal_id": self.source_key, "kind": self.kind,
                "internal_id": self.internal_id, "openrouter_id": self.openrouter_id, "resolution": self.resolution}


@dataclass
class ModelMap:
    """Every source catalog row and every text reference, with its target internal_id."""

    catalog: list[ModelDecision] = field(default_factory=list)
    references: list[ModelDecision] = field(default_factory=list)
    by_canonical: dict[str, int] = field(default_factory=dict)

    def placeholders(self) -> list[ModelDecision]:
        return [d for d in self.references if d.new_row]

    def report_rows(self) -> list[dict]:
        return [d.as_report() for d in self.catalog + self.references]


def _with_notes(resolution: str, canonical: Canonical) -> str:
    notes = canonical.notes()
    return f"{resolution} ({notes})" if notes else resolution


def plan_catalog(source_models: list[SourceModel], target_catalog: dict[str, int], aliases: Aliases) -> ModelMap:
    """Decide the internal_id of every source catalog row (rules 1 and 2).

    `target_catalog` maps the target's openrouter_id to internal_id (a fresh target: the 13
    seeded models). Source rows are taken in rowid order, so the outcome is deterministic.
    """
    existing = {canonicalise(k, aliases).id: v for k, v in target_catalog.items()}
    result = ModelMap(by_canonical=dict(existing))
    ordered = sorted(source_models, key=lambda m: m.rowid)
    canon = {m.rowid: canonicalise(m.openrouter_id, aliases) for m in ordered}

    # The first source row of each canonical id the target lacks becomes a new catalog row;
    # numbers are settled for all of them before any is renumbered, so that a renumbered
    # model never takes a number another model could have kept.
    first_new: dict[str, SourceModel] = {}
    for model in ordered:
        if canon[model.rowid].id not in existing:
            first_new.setdefault(canon[model.rowid].id, model)
    taken = set(existing.values())
    kept: dict[int, int] = {}
    for model in first_new.values():
        number = _as_int(model.key)
        if number is not None and number > 0 and number not in taken:
            kept[model.rowid] = number
            taken.add(number)
    next_id = max(taken, default=0) + 1

    written: set[str] = set()
    for model in ordered:
        c = canon[model.rowid]
        if c.id in written:
            resolution, writes, new = "merged", False, False
        elif c.id in existing:
            resolution, writes, new = "matched", True, False
        elif model.rowid in kept:
            result.by_canonical[c.id] = kept[model.rowid]
            resolution, writes, new = "kept", True, True
        else:
            result.by_canonical[c.id], next_id = next_id, next_id + 1
            sha1 = model.key is not None and _SHA1.match(model.key)
            resolution, writes, new = ("sha1-text" if sha1 else "renumbered"), True, True
        written.add(c.id)
        result.catalog.append(
            ModelDecision(model.openrouter_id, model.key, result.by_canonical[c.id], c.id, _with_notes(resolution, c), writes, new, "catalog")
        )
    return result


def provider_of(canonical_id: str, aliases: Aliases) -> str:
    """The provider part of an OpenRouter id ("anthropic/claude-3-haiku" -> "anthropic")."""
    head, sep, _ = canonical_id.partition("/")
    return head if sep and head else aliases.unknown_provider


def resolve_references(result: ModelMap, texts: list[str], aliases: Aliases) -> ModelMap:
    """Give every distinct text reference a catalog row (rule 5): a match, or a placeholder."""
    next_id = max([d.internal_id for d in result.catalog] + list(result.by_canonical.values()) + [0]) + 1
    for raw in sorted(set(texts)):
        c = canonicalise(raw, aliases)
        if not c.id:
            continue
        if c.id in result.by_canonical:
            result.references.append(ModelDecision(raw, None, result.by_canonical[c.id], c.id, _with_notes("catalog", c)))
            continue
        result.by_canonical[c.id] = next_id
        result.references.append(ModelDecision(raw, None, next_id, c.id, _with_notes("placeholder", c), new_row=True))
        next_id += 1
    return result
