"""JSON text of plain values, written directly, byte for byte as the standard encoder writes it.

The sidecar files and the usage records' content keys write hundreds of thousands of small
JSON texts; building an encoder call for each costs more than writing its few values. The
functions here cover text, ints, finite floats and None, and say so when a value is
something else (the encoder is asked then).
"""

from __future__ import annotations

import json
import math

json_string = json.encoder.encode_basestring     # what the encoder writes for a str (ensure_ascii=False)


def scalar_json(value) -> str | None:
    """`value` as the encoder writes it, for text, ints, finite floats and None; None for
    anything else (bools, blobs, NaN and infinities, containers)."""
    kind = type(value)
    if kind is str:
        return json_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if value is None:
        return "null"
    return None
