"""Refusing an endpoint that nothing would send requests to.

A test's `target` and an arm's own endpoint in `--info` are honoured only by a framework that
sends its requests to a serving endpoint. Under any other they would be dropped without a
word, and the run would time a local program while the user believes it timed the server.
"""

from __future__ import annotations

from aipep_core.endpoint_target import ARM_OPTION
from aipep_core.errors import UserError
from aipep_core.job import Arm
from aipep_core.spec import BenchmarkSpec
from frameworks.base import Framework


def check_endpoint_targets(framework: Framework, spec: BenchmarkSpec, arms: list[Arm]) -> None:
    if framework.uses_target:
        return
    for test in spec.tests:
        if test.target is not None:
            raise UserError(
                f"{test.where}.target: the {framework.name} framework runs a local program and sends no requests; "
                'a test with a target needs model.format "v2_endpoint" (or --framework v2_endpoint)'
            )
    for arm in arms:
        if ARM_OPTION in arm.options:
            raise UserError(
                f"--info: {arm.name}.{ARM_OPTION}: the {framework.name} framework of {spec.path.name} "
                "sends no requests to an endpoint"
            )
