"""Results as a directory tree people can browse: platform / model / test / commit.

Each result directory is assembled under a temporary name and renamed into place,
so a reader never finds a result.json without its logs, and a crash leaves only a
hidden temporary directory behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from aipep_core.result_record import RunResult
from aipep_core.strict_json import strict_json
from harness.reporters.base import Reporter
from harness.reporters.path_names import path_component

RESULT_FILE = "result.json"
LOGS_DIR = "logs"


class LocalReporter(Reporter):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def report(self, result: RunResult) -> None:
        parent = self.test_dir(result)
        parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(dir=parent, prefix=".staging-"))
        try:
            _write_result(staged, result)
            _move_into_place(staged, self._candidates(parent, result), result.id)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise

    def test_dir(self, result: RunResult) -> Path:
        meta = result.meta
        parts = (meta.get("platform"), meta.get("model"), meta.get("identifier"))
        return self.root.joinpath(*(path_component(part if part is not None else "unknown") for part in parts))

    def _candidates(self, parent: Path, result: RunResult) -> list[Path]:
        """The commit's directory, then suffixed names for other results of the same commit."""
        commit = result.meta.get("commit") or "unknown"
        base = path_component(f"{_commit_time(result.meta.get('commit_time'))}_{commit}")
        return [parent / base, parent / f"{base}_{result.id[:8]}", parent / f"{base}_{path_component(result.id)}"]


def _commit_time(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value if value is not None else 0)


def _write_result(directory: Path, result: RunResult) -> None:
    _write_synced(directory / RESULT_FILE, strict_json(result.to_json(), indent=2) + "\n")
    if result.logs:
        logs = directory / LOGS_DIR
        logs.mkdir()
        for name, text in result.logs.items():
            _write_synced(logs / f"{path_component(name)}.log", text)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())


def _move_into_place(staged: Path, candidates: list[Path], result_id: str) -> None:
    """Rename into the first free candidate; a directory already holding this very result is replaced.

    Renaming onto an existing non-empty directory fails, so two processes reporting the
    same commit at once cannot both claim one name.
    """
    for target in candidates:
        if target.exists() and _stored_id(target) == result_id:
            _replace(staged, target)
            return
        try:
            os.rename(staged, target)
            return
        except OSError:
            if not target.exists():
                raise
    raise FileExistsError(f"{candidates[-1]}: holds a different result with the same id")


def _replace(staged: Path, target: Path) -> None:
    retired = Path(tempfile.mkdtemp(dir=target.parent, prefix=".retired-"))
    os.rename(target, retired / target.name)
    os.rename(staged, target)
    shutil.rmtree(retired, ignore_errors=True)


def _stored_id(directory: Path) -> str | None:
    try:
        return json.loads((directory / RESULT_FILE).read_text(encoding="utf-8")).get("id")
    except (OSError, ValueError, AttributeError):
        return None
