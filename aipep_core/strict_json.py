"""JSON text that any parser accepts.

Python writes infinities and NaN as bare `Infinity` / `NaN`, which jq, browsers and
most other JSON parsers reject; an A/B interval with too few rounds has an infinite
end, so results meant for other programs write non-finite numbers as null instead.

The copy that replaces them is made with an explicit stack rather than by recursion:
a document nested a few hundred levels deep (which the JSON parser accepts) would
otherwise exhaust Python's recursion limit here, long before the encoder's own.
"""

from __future__ import annotations

import json
import math
from typing import Any


def strict_json(document: Any, indent: int | None = None) -> str:
    return json.dumps(_finite(document), indent=indent, allow_nan=False)


def _finite(document: Any) -> Any:
    root = [document]
    stack: list[tuple[Any, list | dict]] = [(root, root)]
    while stack:
        source, copy = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, float) and not math.isfinite(item):
                copy[key] = None
            elif isinstance(item, dict):
                copy[key] = {}
                stack.append((item, copy[key]))
            elif isinstance(item, list | tuple):
                copy[key] = [None] * len(item)
                stack.append((item, copy[key]))
            else:
                copy[key] = item
    return root[0]
