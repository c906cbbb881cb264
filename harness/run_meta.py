"""The `meta` of a result: enough to tell later exactly what ran where.

Everything the job decides (arms, labels such as the repo driver's role, the device, the
program versions) is written here, once, before the test runs; the runners add only what
the run itself measured (rounds, times, the command). So a reporter never sees a record
that something adds to after it was sent.
"""

from __future__ import annotations

import platform as python_platform
import sys
from importlib import metadata
from typing import Any

from aipep_core.job import Arm, Job
from aipep_core.names import CONTROL, TREATMENT
from aipep_core.spec import BenchmarkSpec, TestSpec


def build_meta(
    job: Job,
    spec: BenchmarkSpec,
    test: TestSpec,
    framework: str,
    device: dict[str, Any],
    arms: list[Arm],
    program_versions: dict[str, dict[str, str]] | None,
    model_size_bytes: int | None = None,
) -> dict[str, Any]:
    """The meta of one test of `job`; `arms` are resolved (programs decided), treatment first."""
    treatment = arms[0]
    meta: dict[str, Any] = {
        "platform": device.get("platform"),
        "device": device,
        "framework": framework,
        "model": spec.model.name,
        "model_format": spec.model.format,
        "model_size_bytes": model_size_bytes,
        "spec": str(spec.path),
        "identifier": test.identifier,
        "metric": test.metric,
        "commit": treatment.commit,
        "commit_time": treatment.commit_time,
        "program": treatment.program,
        "run_type": job.settings.run_type.value,
        "user_identifier": job.labels.user_identifier,
        "versions": versions(),
    }
    if job.labels.driver_role is not None:
        meta["driver_role"] = job.labels.driver_role
    if isinstance(spec.model.raw.get("group"), str):
        meta["group"] = spec.model.raw["group"]  # FAI-PEP's model group, kept in its results' meta too
    for arm in arms[1:]:
        meta.update(control_commit=arm.commit, control_commit_time=arm.commit_time, control_program=arm.program)
    if program_versions is not None:
        meta["program_versions"] = program_versions[TREATMENT]
        if CONTROL in program_versions:
            meta["control_program_versions"] = program_versions[CONTROL]
    if any(arm.options for arm in arms):
        meta["arm_options"] = {arm.name: arm.options for arm in arms if arm.options}
    return meta


def versions() -> dict[str, str]:
    found = {"python": python_platform.python_version(), "executable": sys.executable}
    for package in ("aipep", "onnxruntime", "numpy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found
