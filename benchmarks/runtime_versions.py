"""A/B of two releases of a runtime, each in its own virtualenv, on a shipped model.

This is the comparison a team runs before upgrading onnxruntime or LiteRT: the same
model, the same machine, rounds interleaved, and a verdict per operator. Each release
is installed from the package index into a virtualenv kept under the user's cache dir
(so a second run reuses it); the harness is then run exactly as a user would, with each
venv's interpreter as an arm's program.

    python benchmarks/runtime_versions.py --package onnxruntime --control 1.20.1 --treatment 1.32.0
    python benchmarks/runtime_versions.py --package ai-edge-litert --control 1.4.0 --treatment 2.3.0
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aipep_core.user_dirs import cache_dir  # noqa: E402

MODELS = REPO / "specifications" / "models"
DEFAULT_SPECS = {
    "onnxruntime": MODELS / "onnxruntime" / "mobilenet_v1" / "mobilenet_v1.json",
    "ai-edge-litert": MODELS / "tflite" / "mobilenet_v1" / "mobilenet_v1.json",
}
FRAMEWORKS = {"onnxruntime": "onnxruntime", "ai-edge-litert": "tflite"}


def environment(package: str, version: str) -> Path:
    """The interpreter of a venv holding `package==version`, made once and reused."""
    root = cache_dir() / "venvs" / f"{package}-{version}"
    python = root / "bin" / "python"
    marker = root / ".installed"
    if not marker.exists():
        print(f"installing {package}=={version} into {root}", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"{package}=={version}"],
            check=True,
        )
        marker.touch()
    return python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", choices=sorted(DEFAULT_SPECS), default="onnxruntime")
    parser.add_argument("--control", required=True, help="the release in use now")
    parser.add_argument("--treatment", required=True, help="the release to move to")
    parser.add_argument("--spec", type=Path, help="benchmark spec (default: the package's MobileNetV1)")
    parser.add_argument("--max_rounds", type=int, default=20)
    args = parser.parse_args()
    control = environment(args.package, args.control)
    treatment = environment(args.package, args.treatment)
    info = {
        "treatment": {"program": str(treatment), "commit": f"{args.package}-{args.treatment}"},
        "control": {"program": str(control), "commit": f"{args.package}-{args.control}"},
    }
    command = [
        sys.executable, "-m", "harness",
        "-b", str(args.spec or DEFAULT_SPECS[args.package]),
        "--framework", FRAMEWORKS[args.package],
        "--info", json.dumps(info),
        "--max_rounds", str(args.max_rounds),
        "--screen_reporter", "--no_db",
    ]  # fmt: skip
    return subprocess.run(command, cwd=REPO).returncode


if __name__ == "__main__":
    sys.exit(main())
