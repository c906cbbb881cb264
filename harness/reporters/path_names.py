"""Turning result fields (model names, identifiers, commits) into safe single path components."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._+=,@-]+")


def path_component(value: object) -> str:
    """A name that cannot leave its directory: separators and other odd characters become `_`.

    A leading dot is replaced as well, which rules out `.` and `..` and hidden files.
    """
    name = _UNSAFE.sub("_", str(value))
    if not name or name.startswith("."):
        name = "_" + name[1:]
    return name
