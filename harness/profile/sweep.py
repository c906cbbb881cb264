"""Running every model of a spec list at every constraint on the host, one plain run per point.

A ranking is only fair when every model ran under the same limits, so the sweep varies
nothing but the constraints: each test of each spec runs as written, with its
`constraints` replaced by the point's quota and memory limit (in the test's own runner: a
model that runs in a Docker image is profiled in it).

A CPU quota is paid out per 100 ms period: an inference shorter than its share runs at
full speed and the next one waits for the period to end. The median hides those waits;
the mean, which includes them, is what a quota does to sustained latency and throughput,
so the fit and the throughput use the mean.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from aipep_core.job import Arm
from aipep_core.resource_metrics import PROCESS
from aipep_core.run_constraints import RunConstraints
from aipep_core.spec import BenchmarkSpec
from aipep_core.user_dirs import cache_dir
from frameworks import get_framework
from harness.arm import ArmRunner, resolved_arm
from harness.downloads import DEFAULT_MAX_BYTES
from harness.model_cache import ModelCache
from harness.single_run import run_single
from platforms.base import Platform


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
    points = []
    for index, (spec, test, constraint) in enumerate(plan, start=1):
        if progress is not None:
            print(
                f"profile: [{index}/{len(plan)}] {spec.model.name} {test.identifier} at {constraint.describe()}",
                file=progress,
                flush=True,
            )
        framework = get_framework(spec.model.format)
        files = {
            role: platform.push(path) for role, path in cache.resolve_all(spec.model.files, spec.path.parent).items()
        }
        limited = dataclasses.replace(test, constraints=_at_point(test.constraints, constraint))
        if index > 1 and spec.model.cooldown:
            # FAI-PEP's cooldown: a pause between tests, for the device to cool (see harness/job_runner.py).
            time.sleep(spec.model.cooldown)
        runner = ArmRunner(framework, platform, limited, files, timeout=timeout, model=spec.model)
        arm = resolved_arm(Arm("treatment", program), framework.default_program())
        result = run_single(runner, arm, {}, repeat=spec.model.repeat)
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
