"""Which runtime release each arm really ran, recorded in the result's meta.

Comparing two virtualenvs is only meaningful if the result says which onnxruntime or
LiteRT each held, and the harness's own imports say nothing about that. A probe that
fails is recorded as such and never fails the benchmark: the measurement matters more
than its label.
"""

from __future__ import annotations

import json

from harness.arm import Arm, ArmRunner

PROBE_TIMEOUT_S = 60.0
PROBE_FAILED = "probe_failed"


def program_versions(runner: ArmRunner, arm: Arm) -> dict[str, str]:
    argv = runner.framework.version_probe(runner.test, runner.device_program(arm))
    if argv is None:
        return {}
    result = runner.platform.run(argv, timeout=PROBE_TIMEOUT_S)
    if not result.ok:
        return {PROBE_FAILED: result.failure_summary(tail_lines=1)}
    lines = result.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, dict):
        return {PROBE_FAILED: f"expected one JSON object, got {result.stdout[-120:]!r}"}
    return {str(name): str(version) for name, version in found.items()}
