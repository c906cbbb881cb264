"""Results for the tests a device could not run, because it could not be reached or was lost.

A benchmark that never ran is still a result: it shows in every reporter and in the
store with the reason, so a missing phone is as visible as a crashing program, and a
repo driver records it and goes on instead of stopping.
"""

from __future__ import annotations

import time

from aipep_core.names import TREATMENT
from aipep_core.result_record import FAILURE, RunResult
from aipep_core.spec import BenchmarkSpec, TestSpec
from frameworks import get_framework
from harness.arm import Arm
from harness.run_meta import base_meta


def device_failure_result(
    spec: BenchmarkSpec, test: TestSpec, args, info: dict, device: str | None, failure: str
) -> RunResult:
    framework = get_framework(args.framework or spec.model.format)
    treatment = Arm.from_info(TREATMENT, info.get(TREATMENT, {}), framework.default_program())
    description = {"platform": args.platform, "identifier": device or args.platform}
    meta = base_meta(spec, test, framework.name, description, treatment, args)
    now = time.time()
    meta.update(start_time=now, end_time=now, device_seconds=0.0)
    return RunResult(meta=meta, status=FAILURE, failure=failure)
