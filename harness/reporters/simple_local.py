"""Each result as one flat JSON file, for tools that just glob a directory."""

from __future__ import annotations

from pathlib import Path

from aipep_core.atomic_file import write_atomically
from aipep_core.result_record import RunResult
from aipep_core.strict_json import strict_json
from harness.reporters.base import Reporter
from harness.reporters.path_names import path_component


class SimpleLocalReporter(Reporter):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def report(self, result: RunResult) -> None:
        meta = result.meta
        parts = (meta.get("model"), meta.get("identifier"), meta.get("platform"), result.id)
        name = "__".join(path_component(part if part is not None else "unknown") for part in parts)
        write_atomically(self.root / f"{name}.json", strict_json(result.to_json(), indent=2) + "\n")
