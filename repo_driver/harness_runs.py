"""Running the harness in process for one commit: alone, or A/B against a control.

The harness is told not to write the database itself (`no_db`): the driver stores each
result together with the state change it causes, in one transaction, which is what
makes a restart after `kill -9` neither lose nor repeat a result.
"""

from __future__ import annotations

import copy
import json
import threading
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path

from aipep_core.result_record import RunResult
from harness.cli import execute
from repo_driver.git_follower import CommitInfo
from repo_driver.stopping import Stopped

STOPPED_PREFIX = "stopped on request"


@dataclass(frozen=True)
class Arm:
    commit: CommitInfo
    program: Path

    def info(self) -> dict:
        return {"program": str(self.program), "commit": self.commit.hash, "commit_time": self.commit.commit_time}


@dataclass
class HarnessRuns:
    harness_args: Namespace
    stop: threading.Event

    def run(self, platform: str, treatment: Arm, control: Arm | None, run_type: str = "benchmark") -> list[RunResult]:
        info = {"treatment": treatment.info()}
        if control is not None:
            info["control"] = control.info()
        args = copy.copy(self.harness_args)
        args.platform = platform
        args.info = json.dumps(info)
        args.run_type = run_type
        args.no_db = True
        results = execute(args, stop=self.stop)
        # Also a run that failed after the stop: a Ctrl-C reaches the whole foreground process group.
        if self.stop.is_set() or any((r.failure or "").startswith(STOPPED_PREFIX) for r in results):
            raise Stopped()
        return results
