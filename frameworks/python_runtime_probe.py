"""Asking an interpreter which runtime it would benchmark.

For the Python-hosted frameworks `{program}` is an interpreter, so two arms can be two
virtualenvs holding two releases of the runtime; the harness only knows which release
each arm ran by asking that interpreter. The probe imports nothing but the standard
library, so it answers even where the runtime itself is broken.
"""

from __future__ import annotations

import json

_PROBE = """
import json, platform, sys
from importlib import metadata
found = {"python": platform.python_version()}
for name in %s:
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps(found))
"""


def python_version_probe(program: str, packages: tuple[str, ...]) -> list[str]:
    """The argv that prints, as one JSON line, the Python and package versions `program` sees."""
    return [program, "-c", _PROBE % json.dumps(list(packages))]
