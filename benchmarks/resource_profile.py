"""What recording resource use costs, and what a CPU quota does, measured on this machine.

Three figures:

* sampling ratio: NET p50 of the onnxruntime bench program with the resource sampler
  running (platforms/resource_sampler.py) divided by the same with it off, processes
  interleaved ABBA so drift hits both alike. Goal: <= 1.01.
* quota slowdown: wall time of a compute-bound process (a fixed amount of CPU work)
  under `constraints.cpus` 0.5 divided by its time under 1.0; about 2 means the quota
  is enforced. Printed only where cgroups can enforce it (see the README).
* prediction error: the profile sweep (harness/profile) measures MobileNetV1 and the
  small convnet at cpus 0.25, 0.5 and 2, fits mean latency = a + b / cpus, predicts cpus 1 and
  compares with a measurement there. Goal: <= 15% error.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from harness_overhead import Case, prepare_model  # noqa: E402

from aipep_core.errors import UserError  # noqa: E402
from aipep_core.run_constraints import RunConstraints  # noqa: E402
from aipep_core.spec import load_benchmarks  # noqa: E402
from frameworks import get_framework  # noqa: E402
from frameworks.base import CommandContext  # noqa: E402
from frameworks.onnxruntime.framework import MODEL_ROLE  # noqa: E402
from harness.profile.fit import fit_quota_curve  # noqa: E402
from harness.profile.sweep import Constraint, sweep  # noqa: E402
from platforms import get_platform  # noqa: E402
from platforms.host import run_process  # noqa: E402

DEFAULT_SPEC = REPO / "specifications/models/onnxruntime/tiny_convnet/tiny_convnet.json"
SWEEP_SPECS = (DEFAULT_SPEC, REPO / "specifications/models/onnxruntime/mobilenet_v1/mobilenet_v1.json")
FITTED_QUOTAS = (0.25, 0.5, 2.0)
HELD_OUT_QUOTA = 1.0
COMPUTE = "import time\nt = time.process_time()\nwhile time.process_time() - t < {seconds}: pass"


def net_p50(case: Case, sample_resources: bool) -> float:
    framework = get_framework(case.framework)
    (argv,) = framework.compose(case.test, CommandContext(program=sys.executable, files={MODEL_ROLE: str(case.model)}))
    result = run_process(argv, timeout=600, sample_resources=sample_resources)
    if not result.ok:
        raise SystemExit(f"bench program {result.failure_summary()}")
    (net,) = [sample for sample in framework.parse(result.stdout) if sample.type == "NET"]
    return statistics.median(net.values)


def sampling_ratios(case: Case, repeats: int) -> list[float]:
    ratios = []
    for index in range(repeats):
        on_first = index % 4 in (0, 3)
        first = net_p50(case, sample_resources=on_first)
        second = net_p50(case, sample_resources=not on_first)
        on, off = (first, second) if on_first else (second, first)
        ratios.append(on / off)
    return ratios


def quota_slowdowns(repeats: int, cpu_seconds: float) -> list[float] | str:
    argv = [sys.executable, "-c", COMPUTE.format(seconds=cpu_seconds)]
    slowdowns = []
    try:
        for _ in range(repeats):
            full = run_process(argv, timeout=600, constraints=RunConstraints(cpus=1.0)).wall_seconds
            half = run_process(argv, timeout=600, constraints=RunConstraints(cpus=0.5)).wall_seconds
            slowdowns.append(half / full)
    except UserError as error:
        return str(error)
    return slowdowns


def prediction_errors() -> list[str]:
    """One line per model: fitted curve, predicted and measured p50 at the held-out quota, error."""
    specs = [spec for path in SWEEP_SPECS for spec in load_benchmarks(path)]
    constraints = [Constraint(cpus) for cpus in (*FITTED_QUOTAS, HELD_OUT_QUOTA)]
    platform = get_platform("host")
    try:
        points = sweep(specs, constraints, platform, timeout=600, progress=sys.stderr)
    except UserError as error:
        return [f"prediction error: not measured: {error}"]
    finally:
        platform.close()
    lines = []
    for spec in specs:
        mine = [p for p in points if p.model == spec.model.name and p.test == spec.tests[0].identifier]
        fitted = [p for p in mine if p.cpus in FITTED_QUOTAS and p.mean_us is not None]
        held_out = next((p for p in mine if p.cpus == HELD_OUT_QUOTA and p.mean_us is not None), None)
        fit = fit_quota_curve(
            [p.cpus for p in fitted], [p.mean_us for p in fitted], fitted[0].threads if fitted else None
        )
        if fit is None or held_out is None:
            lines.append(f"{spec.model.name}: not enough points: {[p.failure for p in mine if p.failure]}")
            continue
        predicted = fit.predict(HELD_OUT_QUOTA)
        error = 100.0 * abs(predicted - held_out.mean_us) / held_out.mean_us
        measured = ", ".join(f"{p.cpus:g}: {p.mean_us / 1e3:.3f} ms (p50 {p.p50_us / 1e3:.3f})" for p in fitted)
        lines.append(
            f"{spec.model.name}: mean latency at cpus {measured}; fit R^2 {fit.r_squared:.4f}; "
            f"at cpus {HELD_OUT_QUOTA:g} "
            f"predicted {predicted / 1e3:.3f} ms, measured {held_out.mean_us / 1e3:.3f} ms, error {error:.1f}% "
            "(goal <= 15%)"
        )
    return lines


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}..{max(values):.3f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8, help="interleaved repeats (default 8)")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="an onnxruntime spec file")
    parser.add_argument("--cpu_seconds", type=float, default=1.0, help="CPU work of the quota program (default 1)")
    parser.add_argument("--skip_sweep", action="store_true", help="leave out the prediction error (the slow part)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats: expected an integer >= 1")
    print(f"load average (1, 5, 15 min) at the start: {load_average()}")
    with tempfile.TemporaryDirectory() as directory:
        case = prepare_model(args.spec, Path(directory))
        ratios = sampling_ratios(case, args.repeats)
    print(f"{case.test.identifier}: NET p50 sampling on / off: {spread(ratios)} (goal <= 1.01), median [min..max]")
    slowdowns = quota_slowdowns(args.repeats, args.cpu_seconds)
    if isinstance(slowdowns, str):
        print(f"quota slowdown: not measured: {slowdowns}")
    else:
        print(f"compute-bound wall time at cpus 0.5 / cpus 1.0: {spread(slowdowns)} (about 2 when enforced)")
    print(f"load average (1, 5, 15 min) so far: {load_average()}")
    if not args.skip_sweep:
        for line in prediction_errors():
            print(line)
        print(f"load average (1, 5, 15 min) after the sweep: {load_average()}")
    return 0


def load_average() -> str:
    """Other work on the machine caps a program below a quota: the figures mean little under load."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    raise SystemExit(main())
