"""What one round of an A/B run holds, named in every result's meta.

Device time per verdict is the rounds a decision needs times the work of one round: each
arm's process start and model load, its warm-up, its timed iterations and, where the
framework has one, its separate profiled per-operator pass. Which of these a round pays
decides what a verdict costs, so a result carries them, and two results' costs (or two
round designs') can be compared from their records alone.
"""

from __future__ import annotations

from typing import Any

from aipep_core.spec import TestSpec
from harness.alternating_round import ALTERNATING


def round_work(test: TestSpec, design: str) -> dict[str, Any]:
    """The work of one round: the design, and per arm one process of `warmup` + `iter` runs; `operators` is
    the test's field of that name: false turns off a framework's separate profiled pass (onnxruntime's);
    `net_in_operator_pass` true: NET is timed in that pass, one pass per process instead of two;
    `iterations_per_turn` is how many timed iterations an arm of an alternating round runs per turn."""
    operators = test.option("operators", True) is not False
    return {
        "design": design,
        "processes_per_arm": 1,
        "warmup": test.warmup,
        "iter": test.iter,
        "operators": operators,
        "net_in_operator_pass": operators and test.option("net_in_operator_pass", False) is True,
        "iterations_per_turn": 1 if design == ALTERNATING else None,
    }
