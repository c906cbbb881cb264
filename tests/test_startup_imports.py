"""What the command lines import before they do anything, which every aipep process pays for.

The repo driver and lab workers start a harness process per run, and a user's first command is
often `--help`: a package that only some runs need (scipy took 1.2 s of every start until the
decisions stopped using it) belongs where those runs import it. benchmarks/cli_startup.py
measures the time; this keeps the heavy packages out of the start.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Packages a run imports only when it needs them: a runtime, a transport, a plot, a broker.
ON_DEMAND = (
    "scipy",
    "onnxruntime",
    "onnx",
    "ai_edge_litert",
    "sklearn",
    "paramiko",
    "adb_shell",
    "matplotlib",
    "plotly",
    "mlperf_loadgen",
    "tritonclient",
    "flask",
)


@pytest.mark.parametrize("module", ["run_bench", "harness.cli", "repo_driver.cli"])
def test_a_command_line_starts_without_the_packages_only_some_runs_need(module):
    code = f"import json, sys, {module}; print(json.dumps(sorted(set(sys.modules) & set(json.loads(sys.argv[1])))))"
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(ON_DEMAND)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout) == []
