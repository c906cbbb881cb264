"""Running every model of a spec list at every constraint on the host, one plain run per point.

A ranking is only fair when every model ran under the same limits, so the sweep varies
nothing but the constraints: each test of each spec runs as written, with its
`constraints` replaced by the point's quota and memory limit (in the test's own runner: a
model that runs in a Docker image is profiled in it).

A CPU quota is paid out per 100 ms period: an inference shorter than its share runs at
full speed and the next one waits for the period to end. The median hides those waits;
the mean, which includes them, is what a quota does to sustained latency and throughput,
so the fit and the throughput use the mean. The mean shows the waits in their true share
only when the timed inferences span many periods, though: fifty inferences of a few
microseconds fit in one share, so whether one of them met the period's end is luck, and
the mean of such a point follows that luck, not the quota. So a test whose command takes
`{iter}` is first run once at the sweep's largest quota, and every point then times
enough inferences to fill at least MIN_QUOTA_PERIODS periods of that largest quota (the
test's own `iter` when that is more). Its per-operator pass is left out: the sweep
reads only the whole network.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from aipep_core.errors import UserError
from aipep_core.job import Arm
from aipep_core.resource_metrics import PROCESS
from aipep_core.result_record import RunResult
from aipep_core.run_constraints import RunConstraints
from aipep_core.spec import BenchmarkSpec, TestSpec
from aipep_core.user_dirs import cache_dir
from frameworks import get_framework
from frameworks.base import CommandContext, Framework
from harness.arm import ArmRunner, resolved_arm
from harness.downloads import DEFAULT_MAX_BYTES
from harness.model_cache import ModelCache
from harness.single_run import run_single
from platforms.base import Platform
from platforms.cgroup_limits import CPU_PERIOD_US

# Quota periods the timed inferences of every point fill at least, at the sweep's largest quota.
MIN_QUOTA_PERIODS = 10
# Beyond this many timed inferences a point's output and memory outgrow what its precision gains.
MAX_ITERATIONS = 100_000


@dataclass(frozen=True)
class Constraint:
    cpus: float
    memory_mb: int | None = None

    def describe(self) -> str:
        return f"cpus {self.cpus:g}" + (f", memory {self.memory_mb} MB" if self.memory_mb else "")


@dataclass(frozen=True)
class ProfilePoint:
    """One test of one model at one constraint; `failure` says why its numbers are missing."""

    spec: str
    model: str
    test: str
    cpus: float
    memory_mb: int | None
    threads: int | None = None
    p50_us: float | None = None
    mean_us: float | None = None
    peak_rss_mb: float | None = None
    failure: str | None = None

    @property
    def throughput_per_s(self) -> float | None:
        """Inferences per second of one stream, one after the other, throttled pauses included."""
        return 1e6 / self.mean_us if self.mean_us else None


def sweep(
    specs: Sequence[BenchmarkSpec],
    constraints: Sequence[Constraint],
    platform: Platform,
    *,
    program: str | None = None,
    timeout: float | None = None,
    progress: TextIO | None = None,
) -> list[ProfilePoint]:
    cache = ModelCache(cache_dir() / "models", None, max_download_bytes=DEFAULT_MAX_BYTES)
    plan = [
        (spec, test, point) for spec in specs for test in spec.tests if test.metric == "delay" for point in constraints
    ]
    largest = max(constraints, key=lambda point: point.cpus) if constraints else None
    timed_tests: dict[tuple[int, int], TestSpec] = {}
    points = []
    for index, (spec, test, constraint) in enumerate(plan, start=1):
        framework = get_framework(spec.model.format)
        files = {
            role: platform.push(path) for role, path in cache.resolve_all(spec.model.files, spec.path.parent).items()
        }
        point = _PointRunner(framework, platform, spec, files, program, timeout)
        key = (id(spec), test.index)
        if key not in timed_tests:
            timed_tests[key] = test
            if largest is not None and _takes_iterations(framework, test, spec):
                _say(progress, f"profile: timing one {spec.model.name} {test.identifier} at {largest.describe()}")
                calibration = point.run(dataclasses.replace(test, raw={**test.raw, "operators": False}), largest)
                calibration_net = calibration.data.get("NET latency")
                if calibration.ok and calibration_net:
                    timed_tests[key] = _spanning_periods(test, _in_us(calibration_net, "p50"), largest.cpus)
        timed = timed_tests[key]
        inferences = f" ({timed.iter} inferences)" if timed is not test else ""
        where = f"{spec.model.name} {test.identifier} at {constraint.describe()}{inferences}"
        _say(progress, f"profile: [{index}/{len(plan)}] {where}")
        if index > 1 and spec.model.cooldown:
            # FAI-PEP's cooldown: a pause between tests, for the device to cool (see harness/job_runner.py).
            time.sleep(spec.model.cooldown)
        result = point.run(timed, constraint)
        net = result.data.get("NET latency")
        memory = result.data.get(f"{PROCESS} peak_rss")
        points.append(
            ProfilePoint(
                spec=str(spec.path),
                model=spec.model.name,
                test=test.identifier,
                cpus=constraint.cpus,
                memory_mb=constraint.memory_mb,
                threads=test.option("threads"),
                p50_us=_in_us(net, "p50") if result.ok and net else None,
                mean_us=_in_us(net, "mean") if result.ok and net else None,
                peak_rss_mb=max(memory.values) if memory else None,
                failure=result.failure if not result.ok else (None if net else "no NET latency reported"),
            )
        )
    return points


def _in_us(metric, statistic: str) -> float:
    scale = {"us": 1.0, "ms": 1e3, "s": 1e6, "ns": 1e-3}.get(metric.unit, 1.0)
    return metric.summary[statistic] * scale


def _at_point(constraints: RunConstraints | None, point: Constraint) -> RunConstraints:
    """The point's quota and memory limit, in the runner and image the test asked for."""
    runner, image = (constraints.runner, constraints.image) if constraints is not None else (None, None)
    return RunConstraints(cpus=point.cpus, memory_mb=point.memory_mb, runner=runner, image=image)


@dataclass(frozen=True)
class _PointRunner:
    """One model's test run once on the platform at one constraint."""

    framework: Framework
    platform: Platform
    spec: BenchmarkSpec
    files: dict[str, str]
    program: str | None
    timeout: float | None

    def run(self, test: TestSpec, point: Constraint) -> RunResult:
        limited = dataclasses.replace(test, constraints=_at_point(test.constraints, point))
        model = self.spec.model
        runner = ArmRunner(self.framework, self.platform, limited, self.files, timeout=self.timeout, model=model)
        arm = resolved_arm(Arm("treatment", self.program), self.framework.default_program())
        return run_single(runner, arm, {}, repeat=model.repeat)


def _takes_iterations(framework: Framework, test: TestSpec, spec: BenchmarkSpec) -> bool:
    """Whether the test's command changes with `iter`; a command that ignores it cannot be lengthened."""
    context = CommandContext(program="program", files={role: role for role in spec.model.files})
    try:
        return framework.compose(test, context) != framework.compose(
            dataclasses.replace(test, iter=test.iter + 1), context
        )
    except UserError:
        return False


def _spanning_periods(test: TestSpec, p50_us: float, largest_cpus: float) -> TestSpec:
    """The test with enough timed inferences to fill MIN_QUOTA_PERIODS periods of the largest quota it can use,
    and without its per-operator pass."""
    threads = test.option("threads")
    usable = min(largest_cpus, threads) if isinstance(threads, int) and threads > 0 else largest_cpus
    needed = math.ceil(MIN_QUOTA_PERIODS * CPU_PERIOD_US * usable / max(p50_us, 1e-3))
    iterations = max(test.iter, min(needed, MAX_ITERATIONS))
    return dataclasses.replace(test, iter=iterations, raw={**test.raw, "iter": iterations, "operators": False})


def _say(progress: TextIO | None, line: str) -> None:
    if progress is not None:
        print(line, file=progress, flush=True)
