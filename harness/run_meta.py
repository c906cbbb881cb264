"""The `meta` of a result: enough to tell later exactly what ran where."""

from __future__ import annotations

import platform as python_platform
import sys
from importlib import metadata
from typing import Any

from aipep_core.spec import BenchmarkSpec, TestSpec
from harness.arm import Arm


def base_meta(
    spec: BenchmarkSpec, test: TestSpec, framework: str, device: dict[str, Any], treatment: Arm, args
) -> dict[str, Any]:
    return {
        "platform": device.get("platform"),
        "device": device,
        "framework": framework,
        "model": spec.model.name,
        "model_format": spec.model.format,
        "spec": str(spec.path),
        "identifier": test.identifier,
        "metric": test.metric,
        "commit": treatment.commit,
        "commit_time": treatment.commit_time,
        "program": treatment.program,
        "run_type": args.run_type,
        "user_identifier": args.user_identifier,
        "versions": versions(),
    }


def versions() -> dict[str, str]:
    found = {"python": python_platform.python_version(), "executable": sys.executable}
    for package in ("aipep", "onnxruntime", "numpy", "scipy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found
