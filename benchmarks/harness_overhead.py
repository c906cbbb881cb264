"""How much the harness adds to what the runtime itself costs (onnxruntime and TFLite).

Two figures per model, for the shipped onnxruntime and tflite specs:

* NET ratio: the NET p50 the harness reports (framework.compose, a fresh
  process via platforms.host.run_process, framework.parse: what the harness
  does per process) divided by the p50 of a bare in-process loop of
  `session.run` (onnxruntime) or `interpreter.invoke` (TFLite) with the same
  threads, warmup, iterations and input. Goal: <= 1.01. A spec that asks for
  `net_in_operator_pass` times NET with onnxruntime's profiler on; the
  column `NET pass` says which pass a row's NET comes from.
* fixed cost: wall time of one bench-program process minus its timed
  iterations, i.e. interpreter start, imports, model load and session
  creation, measured on a run without warmup or the profiled pass; and the
  same for the test as specified (warmup and per-operator pass included).

Arms are interleaved in alternating order (ABBA) so slow drift of the
machine hits both alike; the table shows medians over the repeats.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import onnxruntime as ort  # noqa: E402

from aipep_core.spec import TestSpec, load_benchmarks  # noqa: E402
from frameworks import get_framework  # noqa: E402
from frameworks.base import CommandContext  # noqa: E402
from frameworks.onnxruntime import bench_program  # noqa: E402
from frameworks.onnxruntime.framework import MODEL_ROLE as ONNX_MODEL_ROLE  # noqa: E402
from frameworks.onnxruntime.framework import input_flags, net_in_operator_pass  # noqa: E402
from frameworks.tflite import bench_program as tflite_program  # noqa: E402
from frameworks.tflite.framework import MODEL_ROLE as TFLITE_MODEL_ROLE  # noqa: E402
from frameworks.tflite.framework import input_flags as tflite_input_flags  # noqa: E402
from harness.generated_models import generate_model  # noqa: E402
from platforms.host import run_process  # noqa: E402

SPECS = REPO / "specifications" / "models"
DEFAULT_SPECS = tuple(
    SPECS / framework / name / f"{name}.json"
    for framework in ("onnxruntime", "tflite")
    for name in ("tiny_convnet", "mobilenet_v1")
)


@dataclass
class Repeat:
    harness_p50_us: float
    bare_p50_us: float
    fixed_cost_s: float
    test_overhead_s: float

    @property
    def ratio(self) -> float:
        return self.harness_p50_us / self.bare_p50_us


@dataclass(frozen=True)
class Case:
    framework: str
    test: TestSpec
    model: Path


def prepare_model(spec_path: Path, directory: Path) -> Case:
    (benchmark,) = load_benchmarks(spec_path)
    (model_file,) = benchmark.model.files.values()
    path = directory / model_file.filename
    generate_model(model_file.location.removeprefix("generated://"), path)
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    if model_file.md5 and digest != model_file.md5:
        raise SystemExit(f"{spec_path}: model.files.model.md5: expected {digest} (generated), got {model_file.md5}")
    return Case(benchmark.model.format, benchmark.tests[0], path)


def harness_process(case: Case, test: TestSpec) -> tuple[list[float], float]:
    """NET values and wall seconds of one bench-program process, run as the harness runs it."""
    framework = get_framework(case.framework)
    roles = {"onnxruntime": ONNX_MODEL_ROLE, "tflite": TFLITE_MODEL_ROLE}
    context = CommandContext(program=sys.executable, files={roles[case.framework]: str(case.model)})
    (argv,) = framework.compose(test, context)
    result = run_process(argv, timeout=600)
    if not result.ok:
        raise SystemExit(f"{test.identifier}: bench program {result.failure_summary()}")
    (net,) = [sample for sample in framework.parse(result.stdout) if sample.type == "NET"]
    return list(net.values), result.wall_seconds


def bare_loop(case: Case) -> list[float]:
    """The reference: the runtime's own call in a loop in this process, nothing around it but the clock."""
    if case.framework == "tflite":
        return bare_invoke_loop(case.test, case.model)
    return bare_session_loop(case.test, case.model)


def bare_invoke_loop(test: TestSpec, model: Path) -> list[float]:
    interpreter = tflite_program.load_interpreter_class()(model_path=str(model), num_threads=test.option("threads", 1))
    flags = tflite_input_flags(test.inputs, "inputs")
    tflite_program.prepare(interpreter, [tflite_program.parse_input_flag(flag) for flag in flags[1::2]])
    return tflite_program.time_invoke(interpreter, test.warmup, test.iter)


def bare_session_loop(test: TestSpec, model: Path) -> list[float]:
    options = bench_program.session_options(ort, test.option("threads", 1), test.option("graph_optimization", "all"))
    session = ort.InferenceSession(
        str(model), options, providers=[test.option("execution_provider", "CPUExecutionProvider")]
    )
    flags = input_flags(test.inputs, "inputs")
    feeds = bench_program.make_inputs(session, [bench_program.parse_input_flag(flag) for flag in flags[1::2]])
    for _ in range(test.warmup):
        session.run(None, feeds)
    values = []
    for _ in range(test.iter):
        start = time.perf_counter_ns()
        session.run(None, feeds)
        values.append((time.perf_counter_ns() - start) / 1000.0)
    return values


def one_repeat(case: Case, harness_first: bool) -> Repeat:
    if harness_first:
        net, wall = harness_process(case, case.test)
        bare = bare_loop(case)
    else:
        bare = bare_loop(case)
        net, wall = harness_process(case, case.test)
    startup = dataclasses.replace(case.test, warmup=0, raw={**case.test.raw, "operators": False})
    startup_net, startup_wall = harness_process(case, startup)
    return Repeat(
        harness_p50_us=statistics.median(net),
        bare_p50_us=statistics.median(bare),
        fixed_cost_s=startup_wall - sum(startup_net) / 1e6,
        test_overhead_s=wall - sum(net) / 1e6,
    )


def measure(spec_path: Path, repeats: int, directory: Path) -> tuple[Case, list[Repeat]]:
    case = prepare_model(spec_path, directory)
    return case, [one_repeat(case, harness_first=index % 4 in (0, 3)) for index in range(repeats)]


def print_table(rows: list[tuple[Case, list[Repeat]]]) -> None:
    print(
        f"onnxruntime {ort.__version__}, {_litert_version()}, Python {sys.version.split()[0]}; "
        "medians over repeats [min..max]"
    )
    header = (
        f"{'framework':<12} {'test':<22} {'iter':>5} {'NET pass':>9} {'harness p50 us':>15} {'bare p50 us':>12} "
        f"{'ratio':>22} {'fixed cost ms':>14} {'test overhead ms':>17}"
    )
    print(header)
    print("-" * len(header))
    for case, results in rows:
        test = case.test
        ratios = [r.ratio for r in results]
        ratio = f"{statistics.median(ratios):.3f} [{min(ratios):.3f}..{max(ratios):.3f}]"
        print(
            f"{case.framework:<12} {test.identifier:<22} {test.iter:>5} {_net_pass(case):>9} "
            f"{statistics.median(r.harness_p50_us for r in results):>15.1f} "
            f"{statistics.median(r.bare_p50_us for r in results):>12.1f} {ratio:>22} "
            f"{statistics.median(r.fixed_cost_s for r in results) * 1e3:>14.0f} "
            f"{statistics.median(r.test_overhead_s for r in results) * 1e3:>17.0f}"
        )
    print(
        "ratio: harness NET p50 / bare session.run or invoke p50 (goal <= 1.01); fixed cost: process start + "
        "imports + model load per process; test overhead: the spec's test as run (adds warmup and, for "
        "onnxruntime, the profiled pass); NET pass: own, or timed in onnxruntime's profiled operator pass "
        "(net_in_operator_pass)."
    )


def _net_pass(case: Case) -> str:
    """Which pass the row's NET is timed in: its own, or onnxruntime's profiled operator pass."""
    return "operators" if case.framework == "onnxruntime" and net_in_operator_pass(case.test) else "own"


def _litert_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for package in ("ai-edge-litert", "tflite-runtime"):
        try:
            return f"{package} {version(package)}"
        except PackageNotFoundError:
            continue
    return "no TFLite runtime"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats per model (default 5)")
    parser.add_argument(
        "specs", nargs="*", type=Path, default=list(DEFAULT_SPECS), help="onnxruntime or tflite spec files"
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats: expected an integer >= 1")
    with tempfile.TemporaryDirectory(prefix="aipep-overhead-") as directory:
        rows = [measure(spec, args.repeats, Path(directory)) for spec in args.specs]
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
