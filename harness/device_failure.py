"""Results for the tests a device could not run, because it could not be reached or was lost.

A benchmark that never ran is still a result: it shows in every reporter and in the
store with the reason, so a missing phone is as visible as a crashing program, and a
repo driver records it and goes on instead of stopping.
"""

from __future__ import annotations

import time

from aipep_core.job import Job
from aipep_core.result_record import FAILURE, RunResult
from aipep_core.spec import BenchmarkSpec, TestSpec
from frameworks import get_framework
from harness.arm import resolved_arm
from harness.run_meta import build_meta


def device_failure_result(spec: BenchmarkSpec, test: TestSpec, job: Job, device: str | None, failure: str) -> RunResult:
    framework = get_framework(job.framework or spec.model.format)
    arms = [resolved_arm(arm, framework.default_program()) for arm in job.arms.all()]
    description = {"platform": job.platform.name, "identifier": device or job.platform.name}
    meta = build_meta(job, spec, test, framework.name, description, arms, None)
    now = time.time()
    meta.update(start_time=now, end_time=now, device_seconds=0.0)
    return RunResult(meta=meta, status=FAILURE, failure=failure)
