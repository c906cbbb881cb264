"""A run of FAI-PEP's `accuracy` metric: each arm scores its outputs once, the scores are compared.

FAI-PEP's accuracy tests write their outputs to `{output_files.ROLE}` and let a
`postprocess` command score them against golden files (among `model.files` or the test's
`input_files`), printing the scores as observer lines. Scoring is deterministic, so one
process per arm is evidence enough; there are no rounds to interleave. Scores printed once
per sample are compared sample by sample (McNemar's exact test at the test's alpha), so the
result says how many samples got worse and whether that is beyond chance; scores that cannot
be paired are compared by their means against `accuracy_tolerance`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from aipep_core.job import Arm
from aipep_core.result_record import MetricComparison, MetricResult, RunResult
from aipep_core.verdict import Verdict
from harness.arm import ArmRunner, run_arms_once
from harness.single_run import metric_result
from harness.stats.mcnemar import mcnemar
from harness.stats.summary import diff_summary, summarize

# Accuracy is a score where higher is better; a drop of more than this many units (the
# scores' own unit, test option `accuracy_tolerance`) is a regression.
DEFAULT_ACCURACY_TOLERANCE = 0.0


def run_accuracy(runner: ArmRunner, treatment: Arm, control: Arm | None, meta: dict[str, Any]) -> RunResult:
    started = time.time()
    result = RunResult(meta=dict(meta))
    tolerance = float(runner.test.option("accuracy_tolerance", DEFAULT_ACCURACY_TOLERANCE))
    ran = run_arms_once(runner, [arm for arm in (treatment, control) if arm is not None], result)
    if ran is None:
        return result
    scored = ran[treatment.name]
    result.meta["command"] = list(scored.command)
    for key, samples in scored.samples.items():
        metric = metric_result([samples])
        reference = ran[control.name].samples.get(key) if control is not None else None
        if reference is not None:
            _compare(metric, list(reference.values), tolerance, runner.test.alpha)
        result.data[key] = metric
    result.meta.update(
        start_time=started, end_time=time.time(), device_seconds=sum(p.wall_seconds for p in ran.values())
    )
    return result


def _compare(metric: MetricResult, control_values: list[float], tolerance: float, alpha: float) -> None:
    metric.control_values = control_values
    metric.control_summary = summarize(control_values)
    metric.diff_summary = diff_summary(metric.summary, metric.control_summary)
    if len(metric.values) == len(control_values) > 1:
        test = mcnemar(metric.values, control_values)
        verdict = Verdict.NO_CHANGE
        if test.p_value < alpha:
            verdict = Verdict.REGRESSION if test.worse > test.better else Verdict.IMPROVEMENT
        note = f"per sample: {test.worse} worse, {test.better} better of {len(control_values)} (McNemar)"
        metric.comparison = MetricComparison(verdict=verdict, rounds=1, p_value=test.p_value, note=note)
        return
    change = float(np.mean(metric.values)) - float(np.mean(control_values))
    if change < -tolerance:
        verdict = Verdict.REGRESSION
    elif change > tolerance:
        verdict = Verdict.IMPROVEMENT
    else:
        verdict = Verdict.NO_CHANGE
    note = f"means compared: the arms scored {len(metric.values)} and {len(control_values)} samples"
    metric.comparison = MetricComparison(verdict=verdict, rounds=1, tolerance=tolerance, note=note)
