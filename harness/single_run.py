"""A plain benchmark: one arm, `repeat` processes, every iteration kept."""

from __future__ import annotations

import time
from typing import Any

from aipep_core.job import Arm
from aipep_core.result_record import FAILURE, MetricResult, RunResult
from frameworks.samples import MetricSamples
from harness.arm import ArmRunFailure, ArmRunner, process_logs
from harness.load_results import add_tail_percentiles, scenario_meta
from harness.output_problems import OutputProblems
from harness.stats.summary import summarize


def run_single(runner: ArmRunner, arm: Arm, meta: dict[str, Any], repeat: int = 1) -> RunResult:
    """Run the arm `repeat` times; a failure is recorded with its logs, not raised."""
    started = time.time()
    result = RunResult(meta=dict(meta))
    collected: dict[str, list[MetricSamples]] = {}
    problems = OutputProblems()
    scenarios: list[dict] = []
    for index in range(repeat):
        label = f"{arm.name}_{index}" if repeat > 1 else arm.name
        try:
            process = runner.run_once(arm, label, index)
        except ArmRunFailure as failure:
            result.status = FAILURE
            result.failure = str(failure)
            result.logs.update(process_logs(label, failure.processes))
            break
        result.logs.update(process_logs(label, process.processes))
        result.meta.setdefault("command", list(process.command))
        problems.add(label, process.problems)
        if process.scenario is not None:
            scenarios.append(process.scenario)
        for key, samples in process.samples.items():
            collected.setdefault(key, []).append(samples)
    result.data = {key: metric_result(parts) for key, parts in collected.items()}
    scenario = scenario_meta(runner.test, scenarios)
    if scenario is not None:
        result.meta["scenario"] = scenario
    if runner.test.scenario is not None:
        add_tail_percentiles(result)
    problems.record(result.meta)
    result.meta.update(start_time=started, end_time=time.time(), device_seconds=time.time() - started)
    return result


def metric_result(parts: list[MetricSamples]) -> MetricResult:
    first = parts[0]
    values = [value for part in parts for value in part.values]
    return MetricResult(
        type=first.type,
        metric=first.metric,
        unit=first.unit,
        values=values,
        summary=summarize(values),
        num_runs=len(values),
        from_tool_summary=first.from_tool_summary,
        op_type=first.op_type or None,
    )
