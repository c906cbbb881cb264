"""JSON text that any parser accepts.

Python writes infinities and NaN as bare `Infinity` / `NaN`, which jq, browsers and
most other JSON parsers reject; an A/B interval with too few rounds has an infinite
end, so results meant for other programs write non-finite numbers as null instead.
"""

from __future__ import annotations

import json
import math
from typing import Any


def strict_json(document: Any, indent: int | None = None) -> str:
    return json.dumps(_finite(document), indent=indent, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
