"""A run of the `error` metric: outputs against golden outputs, judged by a tolerance.

Outputs are deterministic, so one process per arm is evidence enough; there
are no rounds to interleave. Golden outputs come from the spec's
`output_files`; without them an A/B run uses the control's outputs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from aipep_core.errors import UserError
from aipep_core.job import Arm
from aipep_core.result_record import MetricComparison, MetricResult, RunResult
from aipep_core.verdict import Verdict
from harness.arm import ArmRunner, run_arms_once
from harness.output_error import compare_outputs
from harness.stats.summary import summarize

DEFAULT_ERROR_TOLERANCE = 1e-4


def run_error(
    runner: ArmRunner,
    treatment: Arm,
    control: Arm | None,
    golden: dict[str, np.ndarray] | None,
    meta: dict[str, Any],
) -> RunResult:
    if golden is None and control is None:
        raise UserError(
            f"{runner.test.where}.output_files: expected golden outputs for an error test run without a control"
        )
    started = time.time()
    result = RunResult(meta=dict(meta))
    tolerance = float(runner.test.option("error_tolerance", DEFAULT_ERROR_TOLERANCE))
    ran = run_arms_once(runner, [arm for arm in (treatment, control) if arm is not None], result)
    if ran is None:
        return result
    reference = golden if golden is not None else ran["control"].outputs
    for output, error in compare_outputs(ran["treatment"].outputs, reference).items():
        for samples in error.samples(output):
            metric = MetricResult(
                type=samples.type,
                metric=samples.metric,
                unit=samples.unit,
                values=list(samples.values),
                summary=summarize(samples.values),
                num_runs=1,
            )
            if samples.metric == "max_abs_error":
                exceeded = error.max_abs_error > tolerance
                metric.comparison = MetricComparison(
                    verdict=Verdict.REGRESSION if exceeded else Verdict.NO_CHANGE, rounds=1, tolerance=tolerance
                )
            result.data[samples.key] = metric
    result.meta.update(
        golden="spec output_files" if golden is not None else "control outputs",
        start_time=started,
        end_time=time.time(),
        device_seconds=sum(p.wall_seconds for p in ran.values()),
    )
    return result
