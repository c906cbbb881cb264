"""The same samples give the same verdicts and the same numbers, in any process.

A verdict that could flip when the same rounds are analysed again (a bootstrap, a
permutation test, an order taken from a hash set) would make a regression unconfirmable
and a bisection wander. The decision path has no random draw: these tests pin that down,
in one process, with the metrics in another order, and in fresh interpreters with
different hash seeds (string hashing is the one per-process randomness Python has).
"""

import json
import os
import subprocess
import sys

import numpy as np

from aipep_core import spec
from harness.sequential_decision import decide_sequentially

SUBPROCESS_TIMEOUT_S = 120


def recorded_rounds() -> dict[str, tuple[list[float], list[float]]]:
    """Forty rounds of a network and a dozen operators: some slower, some tiny and whole-microsecond
    (zeros and ties), plus resource metrics, so every branch of the decision is taken."""
    rng = np.random.default_rng(2026)
    rounds = 40
    metrics = {}
    control = rng.normal(7800.0, 60.0, rounds)
    metrics["NET latency"] = ((control * 1.03 + rng.normal(0, 40.0, rounds)).tolist(), control.tolist())
    for index in range(12):
        level = float(rng.uniform(50.0, 900.0))
        slowdown = 1.05 if index % 4 == 0 else 1.0
        control = rng.normal(level, level * 0.02, rounds)
        treatment = rng.normal(level * slowdown, level * 0.02, rounds)
        metrics[f"Conv_{index} latency"] = (treatment.tolist(), control.tolist())
    for name, choices in (("Flatten", [3.0, 3.0, 4.0]), ("Softmax", [5.0, 6.0, 6.0])):
        metrics[f"{name} latency"] = (rng.choice(choices, rounds).tolist(), rng.choice(choices, rounds).tolist())
    metrics["PROCESS peak_rss"] = (rng.normal(9e7, 1e5, rounds).tolist(), rng.normal(9e7, 1e5, rounds).tolist())
    metrics["PROCESS read_bytes"] = ([0.0] * rounds, [0.0] * rounds)
    return metrics


def decision_document(order: str = "as recorded") -> dict:
    """Every comparison of a replayed adaptive run, as plain JSON values (floats round-trip exactly)."""
    metrics = recorded_rounds()
    if order == "reversed":
        metrics = dict(reversed(list(metrics.items())))
    test = spec.TestSpec(index=0, identifier="determinism", metric="delay", iter=30, max_rounds=40)
    units = {key: "us" for key in metrics if not key.startswith("PROCESS")}  # so the absolute floor is applied
    comparisons, rounds_used = decide_sequentially(metrics, test, units)
    return {"rounds": rounds_used, "metrics": {key: comparisons[key].as_dict() for key in sorted(comparisons)}}


def test_the_same_samples_decided_twice_give_identical_verdicts_and_numbers():
    first = decision_document()
    assert first == decision_document()
    verdicts = {document["verdict"] for document in first["metrics"].values()}
    assert {"regression", "no_change", "below_floor"} <= verdicts  # the samples exercise several outcomes


def test_the_order_of_the_metrics_changes_nothing():
    assert decision_document("reversed") == decision_document()


def test_two_processes_with_different_hash_seeds_give_identical_verdicts_and_numbers():
    outputs = []
    for seed in ("1", "4242"):
        completed = subprocess.run(
            [sys.executable, __file__],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
            check=True,
        )
        outputs.append(json.loads(completed.stdout))
    assert outputs[0] == outputs[1] == json.loads(json.dumps(decision_document()))


if __name__ == "__main__":
    print(json.dumps(decision_document()))
