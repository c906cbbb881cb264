"""Helpers for the repo driver's tests: real git repositories of the microkernel in tmp dirs, and driver runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.store.result_store import ResultStore
from repo_driver.sample_repository import SampleRepository

REPO = Path(__file__).resolve().parent.parent
SLOW_CONV = {"CONV": 400}

# Few, short rounds and a threshold far above the noise of a loaded 2-core machine (where
# estimates of unchanged commits stray by 20-30%): the tests' slowdown (Conv x4, SLOW_CONV)
# is certain at 8 rounds, the fewest at which one operator's test survives the correction
# over five operators, and no commit without a change reaches 50%.
FAST_TEST = {
    "identifier": "microkernel_fast",
    "metric": "delay",
    "warmup": 1,
    "iter": 6,
    "commands": ["{program} --warmup {warmup} --iter {iter}"],
    "regression_threshold": 50,
    "min_rounds": 8,
    "max_rounds": 8,
}


class DriverSetup:
    """A sample repository plus everything one driver instance needs: spec, database, exec cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sample = SampleRepository(root / "repos")
        self.db = root / "aipep.db"
        self.exec_dir = root / "exec"
        self.spec = root / "spec.json"
        spec = {"model": {"name": "microkernel", "format": "microkernel", "files": {}}, "tests": [FAST_TEST]}
        self.spec.write_text(json.dumps(spec))

    def argv(self, *extra: str, first: str | None = None) -> list[str]:
        return [
            "--repo_dir", str(self.sample.clone()),
            "--framework", "microkernel",
            "--exec_dir", str(self.exec_dir),
            "--db", str(self.db),
            "--ab_testing", "--regression",
            "-b", str(self.spec),
            "--simple_screen_reporter",
            "--model_cache", str(self.root / "models"),
            *(["--commit", first] if first else []),
            *extra,
        ]  # fmt: skip

    def spawn(self, *extra: str, first: str | None = None) -> subprocess.Popen:
        """The driver as a separate process (for kill -9, SIGTERM and the status file), stderr piped by line."""
        return subprocess.Popen(
            [sys.executable, "-m", "repo_driver", *self.argv(*extra, first=first)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with ResultStore(self.db) as store:
            return store.db.execute(sql, params or []).fetchall()

    def states(self) -> dict[str, str]:
        return dict(self.query("SELECT hash, state FROM commits"))

    def regressions(self) -> list[dict]:
        with ResultStore(self.db) as store:
            return list(store.db.query("SELECT * FROM driver_regressions ORDER BY id"))

    def main_runs(self) -> list[tuple[str, str | None]]:
        """(commit, control) of every stored baseline or benchmark run of the main line."""
        return self.query(
            "SELECT hash, control_hash FROM driver_runs WHERE role IN ('baseline', 'benchmark') ORDER BY saved_at"
        )


def wait_for_line(process: subprocess.Popen, needle: str, seen: list[str]) -> str:
    """Read the driver's stderr until a line containing `needle`; fails if the driver exits first."""
    for line in process.stderr:
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"driver exited before printing {needle!r}:\n{''.join(seen)}")
