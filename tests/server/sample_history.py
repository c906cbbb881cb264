"""Result records of a simulated commit history, made the way the harness makes them.

Each commit is compared A/B against the one before it: per round both arms run their
iterations under a shared drift factor, the round statistic is the median, and the
comparison, summaries and verdicts come from harness.stats exactly as in a real run.
Only the program is simulated: latencies are drawn per operator, and from
`slow_commit` on, the Conv operator takes `slowdown` times longer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from aipep_core.result_record import MetricComparison, MetricResult, RunResult
from aipep_core.strict_json import strict_json
from harness.stats.comparison import compare_test
from harness.stats.summary import diff_summary, round_statistic, summarize

NET_KEY = "NET latency"
BASE_US = {"Conv": 700.0, "Relu": 100.0, "MatMul": 400.0, "Softmax": 50.0}
FIRST_COMMIT_TIME = 1_700_000_000


@dataclass(frozen=True)
class History:
    model: str = "mobilenet"
    identifier: str = "cpu_fp32"
    platform: str = "host"
    device: str = "board-1"
    commits: int = 8
    rounds: int = 12
    iterations: int = 10
    operators: tuple[str, ...] = ("Conv", "Relu", "MatMul")
    slow_commit: int | None = 5
    slowdown: float = 1.3
    noise: float = 0.03
    seed: int = 1

    def commit(self, index: int) -> str:
        return hashlib.sha1(f"{self.model} commit {index}".encode()).hexdigest()


def history_records(history: History) -> list[dict]:
    """One record per commit after the first, oldest first, as the client posts them (strict JSON)."""
    rng = np.random.default_rng(history.seed)
    return [_record(history, index, rng) for index in range(1, history.commits)]


def record_text(record: dict) -> str:
    return strict_json(record)


def _record(history: History, index: int, rng: np.random.Generator) -> dict:
    arms = {"treatment": index, "control": index - 1}
    iterations = {arm: {key: [] for key in _keys(history)} for arm in arms}
    per_round = {arm: {key: [] for key in _keys(history)} for arm in arms}
    for _ in range(history.rounds):
        drift = float(np.exp(rng.normal(0.0, 0.01)))
        for arm, commit_index in arms.items():
            by_operator = {
                operator: _latencies(history, operator, commit_index, drift, rng) for operator in history.operators
            }
            by_operator["NET"] = np.sum(list(by_operator.values()), axis=0)
            for operator, values in by_operator.items():
                key = f"{operator} latency"
                iterations[arm][key].extend(float(v) for v in values)
                per_round[arm][key].append(round_statistic(values))
    comparisons = compare_test(
        {key: (per_round["treatment"][key], per_round["control"][key]) for key in _keys(history)},
        net_keys={NET_KEY},
    )
    data = {}
    for key in _keys(history):
        treatment, control = iterations["treatment"][key], iterations["control"][key]
        summary, control_summary = summarize(treatment), summarize(control)
        data[key] = MetricResult(
            type=key.split(" ")[0],
            metric="latency",
            unit="us",
            values=treatment,
            summary=summary,
            num_runs=len(treatment),
            round_values=per_round["treatment"][key],
            control_values=control,
            control_summary=control_summary,
            control_round_values=per_round["control"][key],
            diff_summary=diff_summary(summary, control_summary),
            comparison=MetricComparison.from_json(comparisons[key].as_dict()),
        )
    commit = history.commit(index)
    result = RunResult(
        id=hashlib.sha256(f"{history.model}/{history.identifier}/{history.device}/{commit}".encode()).hexdigest()[:32],
        meta={
            "platform": history.platform,
            "device": {"platform": history.platform, "identifier": history.device, "cores": 4},
            "framework": "simulated",
            "model": history.model,
            "identifier": history.identifier,
            "metric": "delay",
            "commit": commit,
            "commit_time": FIRST_COMMIT_TIME + 3600 * index,
            "control_commit": history.commit(index - 1),
            "control_commit_time": FIRST_COMMIT_TIME + 3600 * (index - 1),
            "run_type": "benchmark",
            "start_time": float(FIRST_COMMIT_TIME + 3600 * index + 60),
            "end_time": float(FIRST_COMMIT_TIME + 3600 * index + 90),
        },
        data=data,
    )
    return json.loads(record_text(result.to_json()))


def _keys(history: History) -> list[str]:
    return [NET_KEY, *(f"{operator} latency" for operator in history.operators)]


def _latencies(history: History, operator: str, commit_index: int, drift: float, rng: np.random.Generator):
    slow = operator == "Conv" and history.slow_commit is not None and commit_index >= history.slow_commit
    level = BASE_US[operator] * (history.slowdown if slow else 1.0) * drift
    return level * np.exp(rng.normal(0.0, history.noise, history.iterations))
