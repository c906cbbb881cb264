"""Checking every string and every level of a record, including the keys the server does not know.

Unknown keys are kept (a newer harness may send more), so their contents reach the
database and every reader too. Python's JSON parser accepts what neither database
stores: a NUL, which PostgreSQL text cannot hold, and a lone surrogate (`"\\ud800"`),
which is no character at all and cannot be encoded as UTF-8. Deep nesting would only
make every later reader recurse. The walk keeps its own stack, so the check cannot
itself run out of recursion.
"""

from __future__ import annotations

import json
import re
from typing import Any

from server.record_limits import MAX_NESTING, MAX_TEXT_CHARACTERS

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class BadText(ValueError):
    """The message is the 400 answer's reason, naming the JSON path."""


def check_record_text(document: Any, root: str = "record") -> None:
    stack: list[tuple[str, Any, int]] = [(root, document, 1)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise BadText(f"{where}: expected at most {MAX_NESTING} levels of nesting, got more")
        if isinstance(value, dict):
            children = []
            for key, item in value.items():
                check_text(f"{where}: key {json.dumps(key)}", key)
                children.append((_member(where, root, key), item))
        else:
            children = [(f"{where}[{index}]", item) for index, item in enumerate(value) if not _is_number(item)]
        for child_where, item in children:
            if isinstance(item, str):
                check_text(child_where, item)
        stack.extend(
            (child_where, item, depth + 1) for child_where, item in reversed(children) if isinstance(item, dict | list)
        )


def check_text(where: str, text: str, limit: int = MAX_TEXT_CHARACTERS) -> None:
    if len(text) > limit:
        raise BadText(f"{where}: expected at most {limit} characters, got {len(text)}")
    if "\x00" in text:
        raise BadText(f"{where}: expected text without NUL characters, got {_shown(text)}")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BadText(f"{where}: expected text without lone surrogates, got {_shown(text)}") from None


def _member(where: str, root: str, key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return key if where == root else f"{where}.{key}"
    return f"{'' if where == root else where}[{json.dumps(key)}]"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def _shown(text: str) -> str:
    shown = json.dumps(text)
    return shown if len(shown) <= 40 else shown[:37] + "..."
