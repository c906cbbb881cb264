"""What recording resource use costs, and what a CPU quota does, measured on this machine.

Two figures:

* sampling ratio: NET p50 of the onnxruntime bench program with the resource sampler
  running (platforms/resource_sampler.py) divided by the same with it off, processes
  interleaved ABBA so drift hits both alike. Goal: <= 1.01.
* quota slowdown: wall time of a compute-bound process (a fixed amount of CPU work)
  under `constraints.cpus` 0.5 divided by its time under 1.0; about 2 means the quota
  is enforced. Printed only where cgroups can enforce it (see the README).
"""

from __future__ import annotations

import argparse
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
from frameworks import get_framework  # noqa: E402
from frameworks.base import CommandContext  # noqa: E402
from frameworks.onnxruntime.framework import MODEL_ROLE  # noqa: E402
from platforms.host import run_process  # noqa: E402

DEFAULT_SPEC = REPO / "specifications/models/onnxruntime/tiny_convnet/tiny_convnet.json"
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


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}..{max(values):.3f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8, help="interleaved repeats (default 8)")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="an onnxruntime spec file")
    parser.add_argument("--cpu_seconds", type=float, default=1.0, help="CPU work of the quota program (default 1)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats: expected an integer >= 1")
    with tempfile.TemporaryDirectory() as directory:
        case = prepare_model(args.spec, Path(directory))
        ratios = sampling_ratios(case, args.repeats)
    print(f"{case.test.identifier}: NET p50 sampling on / off: {spread(ratios)} (goal <= 1.01), median [min..max]")
    slowdowns = quota_slowdowns(args.repeats, args.cpu_seconds)
    if isinstance(slowdowns, str):
        print(f"quota slowdown: not measured: {slowdowns}")
    else:
        print(f"compute-bound wall time at cpus 0.5 / cpus 1.0: {spread(slowdowns)} (about 2 when enforced)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
