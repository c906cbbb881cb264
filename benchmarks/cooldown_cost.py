"""What a model's `cooldown` costs, and what it changes, in an interleaved A/B run.

FAI-PEP sleeps `cooldown` seconds between tests so a phone can shed the heat of the last one.
aipep used to sleep it between the two arms of every round, which made a 30 s cooldown cost
minutes per test. It now sleeps between tests, FAI-PEP's meaning, and relies on the
alternating arm order to give each arm the other's heat equally often.

This script runs the same A/A comparison (one stand-in program in both arms, two tests,
fixed rounds) three ways and prints, for each, the wall time and what the A/A estimates and
confidence intervals came out as:

- `none`: cooldown 0;
- `between tests`: cooldown C, as aipep now spends it;
- `before every process`: a pause of C before each arm's process (an upper bound of the old
  placement, which paused before the second arm of each round), made with a wrapper that
  sleeps before it starts the program, so the pause is outside the measured process.

    python benchmarks/cooldown_cost.py --cooldown 1 --rounds 8
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STAND_IN = REPO / "tests" / "data" / "faipep" / "stand_in_benchmark.py"


def write_spec(directory: Path, cooldown: float) -> Path:
    test = {"commands": ["{program} --iter {iter} --work 1000000"], "iter": 10, "metric": "delay"}
    spec = {
        "model": {"name": "cooldown_probe", "format": "caffe2", "cooldown": cooldown},
        "tests": [{**test, "identifier": "first"}, {**test, "identifier": "second"}],
    }
    path = directory / f"cooldown_{cooldown}.json"
    path.write_text(json.dumps(spec))
    return path


def write_program(directory: Path, pause: float) -> Path:
    path = directory / f"benchmark_pause_{pause}"
    path.write_text(f'#!/bin/sh\nsleep {pause}\nexec "{sys.executable}" "{STAND_IN}" "$@"\n')
    path.chmod(0o755)
    return path


def run(spec: Path, program: Path, rounds: int, directory: Path) -> tuple[float, list[dict]]:
    arm = {"program": str(program)}
    argv = [
        sys.executable, "-m", "harness", "-b", str(spec), "--info", json.dumps({"treatment": arm, "control": arm}),
        "--min_rounds", str(rounds), "--max_rounds", str(rounds), "--no_db", "--simple_screen_reporter",
        "--model_cache", str(directory / "models"),
    ]  # fmt: skip
    started = time.monotonic()
    finished = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=3600, check=False)
    wall = time.monotonic() - started
    results = [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]
    if finished.returncode not in (0, 3) or len(results) != 2:
        sys.exit(f"harness failed ({finished.returncode}): {finished.stderr[-2000:]}")
    return wall, results


def describe(results: list[dict]) -> str:
    parts = []
    for result in results:
        comparison = result["data"]["NET latency"]["comparison"]
        parts.append(
            f"{result['meta']['identifier']} {comparison['estimate_pct']:+.2f}% "
            f"[{comparison['ci_low_pct']:+.2f}, {comparison['ci_high_pct']:+.2f}] {comparison['verdict']}"
        )
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cooldown", type=float, default=1.0, help="seconds (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=8, help="A/B rounds per test (default %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aipep-cooldown-") as scratch:
        directory = Path(scratch)
        plain, paused = write_program(directory, 0), write_program(directory, args.cooldown)
        cases = [
            ("none", write_spec(directory, 0), plain),
            ("between tests", write_spec(directory, args.cooldown), plain),
            ("before every process", write_spec(directory, 0), paused),
        ]
        print(f"cooldown {args.cooldown:g} s, 2 tests x {args.rounds} rounds x 2 arms, A/A")
        print(f"{'placement':<22}{'wall s':>8}  A/A estimate [CI] verdict per test")
        for name, spec, program in cases:
            wall, results = run(spec, program, args.rounds, directory)
            print(f"{name:<22}{wall:>8.1f}  {describe(results)}")


if __name__ == "__main__":
    main()
