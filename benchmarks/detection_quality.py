"""Detection quality of aipep against other regression detectors, on the same samples.

Real A/B comparisons of the microkernel, with its Conv operator made 0 (A/A),
1, 2, 5 and 10 percent slower by real extra work (-DCONV_UNITS), while a bursty
background load started by this script competes for the CPU. Every trial runs
the live aipep A/B runner for the full max_rounds (disturbed rounds re-run),
keeps every sample, and then applies to the same samples:

- aipep: the sequential decision of the harness (replayed over the recorded
  rounds exactly as the live runner decides), once per per-round statistic;
- FAI-PEP: latest run's p50 above the 90th percentile of the prior runs' p90
  values plus a tenth of their range, with at least 5 prior runs;
- asv continuous: Mann-Whitney p < 0.002 and median ratio > 1.1;
- pyperf compare_to: Student t-test at 95% and a slower mean;
- Google Benchmark compare.py: Mann-Whitney U, alpha 0.05, slower;
- Pinpoint: the smaller of the KS and Mann-Whitney p-values <= 0.01, slower.

It prints one table: false-positive rate (A/A) and recall per slowdown per
detector, and the median device-seconds per aipep verdict.

With `--model mobilenet_onnxruntime` or `mobilenet_tflite` the same is done on
MobileNetV1 with controlled slowdowns (benchmarks/real_model_slowdown.py): on the
whole network (`--slowdown_kind net`, percent of every inference) or on one
operator (`--slowdown_kind operator`, onnxruntime: one depthwise convolution does a
third more work). `--round_designs sequential,duet` records trials of each round
design, interleaved, under the same load; each design gets its own table, with the
share of verdicts that end inconclusive, the spread of the paired per-round
log-ratio, and the same decisions replayed on fewer iterations per process (the
cost of a round: device time per round shrinks by the iterations left out).
`alternating` rounds (both arms loaded at once, then taking turns one timed
iteration each) are a third design. With the per-operator pass (`--operators`, or
`--slowdown_kind operator`) a last table replays the trials under each `stop_when`:
waiting for NET's verdict against waiting for every operator's; it also gives the
median device seconds per verdict cell by cell (A/A, each slowdown). `--net_passes own,operator`
records onnxruntime trials with NET timed in a pass of its own and in the profiled operator pass
(`net_in_operator_pass`), interleaved under the same load, each with its own tables; without
it, NET is timed where the model's spec says.

`--save` keeps every sample and a description of the device; `--replay a.json,b.json`
reports on saved files again, their trials pooled per round design and slowdown. Each
file's CPU is printed: cloud VMs of one name differ from day to day, and files from two
machines pool only as well as the machines compare.

    python benchmarks/detection_quality.py --trials 20 --save samples.json
    python benchmarks/detection_quality.py --model mobilenet_onnxruntime --slowdowns 0,2,5 \
        --round_designs sequential,duet --trials 5 --max_rounds 30
    python benchmarks/detection_quality.py --replay monday.json,tuesday.json
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import json
import math
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats as scipy_stats

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aipep_core.job import Arm  # noqa: E402
from aipep_core.spec import STOP_RULES, load_benchmarks  # noqa: E402
from benchmarks.real_model_slowdown import load_average, onnx_operator_variant, slowed_interpreter  # noqa: E402
from frameworks import get_framework  # noqa: E402
from harness.ab_run import run_ab  # noqa: E402
from harness.arm import ArmRunner  # noqa: E402
from harness.generated_models import generate_model  # noqa: E402
from harness.resource_samples import is_resource_key  # noqa: E402
from harness.sequential_decision import decide_sequentially, is_operator  # noqa: E402
from harness.stats.summary import DEFAULT_ROUND_STATISTIC, round_statistic  # noqa: E402
from platforms import get_platform  # noqa: E402

# The microkernel under its framework's own command, which takes turns: every round design can run.
SPEC = REPO / "specifications/models/microkernel/microkernel/microkernel_alternating.json"
BUILD = REPO / "specifications/frameworks/microkernel/host/build.sh"
SOURCE = REPO / "examples/microkernel"
SLOWED = "Conv latency"
# Programs that time their operators inside each NET iteration, not in a pass of their own: a
# replay on fewer iterations leaves their operator time out once, with NET's.
OPERATORS_IN_NET = {"microkernel"}
STATISTICS = ("median", "p10", "trimmed_mean", "min")
MODELS = {
    "mobilenet_onnxruntime": (REPO / "specifications/models/onnxruntime/mobilenet_v1/mobilenet_v1.json", "model"),
    "mobilenet_tflite": (REPO / "specifications/models/tflite/mobilenet_v1/mobilenet_v1.json", "graph"),
}
SLOWED_OPERATOR = "DepthwiseConv_1"
# Where an onnxruntime process times NET: a pass of its own after the profiled one, or that pass.
NET_PASSES = ("own", "operator")
# The name onnxruntime reports that node under, once fused with its ReLU6 and moved to the NCHWc layout.
SLOWED_OPERATOR_KEY = "Relu6_depthwise_1_out_nchwc latency"


def build(destination: Path, conv_units: int) -> Path:
    env = {**os.environ, "CFLAGS": f"-DCONV_UNITS={conv_units}"}
    subprocess.run(["sh", str(BUILD), str(SOURCE), str(destination)], check=True, env=env, capture_output=True)
    return destination


def _burst_worker(seed: int, stop) -> None:
    """Alternate busy bursts and idle gaps of random lengths, like a shared CI machine."""
    rng = random.Random(seed)
    while not stop.is_set():
        end = time.perf_counter() + rng.uniform(0.1, 0.8)
        while time.perf_counter() < end:
            pass
        stop.wait(rng.uniform(0.2, 1.5))


class BurstyLoad:
    def __init__(self, workers: int, seed: int):
        self.stop = multiprocessing.Event()
        self.processes = [
            multiprocessing.Process(target=_burst_worker, args=(seed + i, self.stop), daemon=True)
            for i in range(workers)
        ]

    def __enter__(self):
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for process in self.processes:
            process.join(timeout=5)


def run_trial(runner: ArmRunner, treatment: Path, control: Path) -> dict:
    result = run_ab(runner, Arm("treatment", str(treatment)), Arm("control", str(control)), {}, progress=None)
    if not result.ok:
        raise RuntimeError(result.failure)
    keys = [key for key, metric in result.data.items() if metric.round_values is not None]
    rounds = result.meta["rounds"]
    return {
        "design": result.meta["round_design"],
        "operators_in_net": runner.framework.name in OPERATORS_IN_NET
        or result.meta["round_work"]["net_in_operator_pass"],
        "round_seconds": [r["device_seconds"] for r in rounds],
        "arm_seconds": [[r["treatment"]["wall_seconds"], r["control"]["wall_seconds"]] for r in rounds],
        "rerun_seconds": sum(r["device_seconds"] for r in result.meta["rerun_rounds"]),
        "reruns": len(result.meta["rerun_rounds"]),
        "rerun_rounds": [_set_aside(rerun, keys) for rerun in result.meta["rerun_rounds"]],
        "disturbed": [r["disturbed"] for r in rounds],
        "load": os.getloadavg()[0],
        "units": {key: result.data[key].unit for key in keys},
        "iterations": {
            key: {
                "treatment": _per_round_values(result.data[key].values, len(rounds)),
                "control": _per_round_values(result.data[key].control_values, len(rounds)),
            }
            for key in keys
        },
    }


def _set_aside(rerun: dict, keys: list[str]) -> dict:
    """A disturbed round the harness ran again: where it ran, what it cost and what it read."""
    return {
        "round": rerun["round"],
        "seconds": rerun["device_seconds"],
        "arm_seconds": [rerun["treatment"]["wall_seconds"], rerun["control"]["wall_seconds"]],
        "iterations": {
            key: {arm: rerun["samples"][arm][key] for arm in ("treatment", "control")}
            for key in keys
            if all(key in rerun["samples"][arm] for arm in ("treatment", "control"))
        },
    }


def as_executed(trial: dict) -> dict:
    """The trial as a harness that keeps disturbed rounds would have run it: every round in the order
    it ran, a set-aside one in the place of its re-run, cut at the trial's round count; no re-run cost.
    Metrics a set-aside round lacks are left out of every round."""
    sequence = []
    for index in range(len(trial["round_seconds"])):
        sequence += [(rerun, None) for rerun in trial["rerun_rounds"] if rerun["round"] == index]
        sequence.append((None, index))
    sequence = sequence[: len(trial["round_seconds"])]
    keys = [key for key in trial["iterations"] if all(key in r["iterations"] for r, _ in sequence if r)]

    def values(key: str, arm: str) -> list[list[float]]:
        return [r["iterations"][key][arm] if r else trial["iterations"][key][arm][i] for r, i in sequence]

    return {
        **trial,
        "round_seconds": [r["seconds"] if r else trial["round_seconds"][i] for r, i in sequence],
        "arm_seconds": [r["arm_seconds"] if r else trial["arm_seconds"][i] for r, i in sequence],
        "rerun_seconds": 0.0,
        "reruns": 0,
        "rerun_rounds": [],
        "iterations": {key: {arm: values(key, arm) for arm in ("treatment", "control")} for key in keys},
    }


def _per_round_values(values: list[float], rounds: int) -> list[list[float]]:
    per_round = len(values) // rounds
    return [values[i * per_round : (i + 1) * per_round] for i in range(rounds)]


def aipep_decides(
    trial: dict, test, method: str, iterations: int | None = None, operator_iterations: int | None = None
) -> tuple[dict, float]:
    """The verdicts the harness reaches on the trial's rounds, and the device seconds it took.

    `iterations`: replay as if each process had run only its first so many timed iterations;
    `operator_iterations`: as many in the profiled operator pass (default: `iterations`). Each
    round's device time then loses the time of the iterations left out."""
    if operator_iterations is None:
        operator_iterations = iterations
    comparisons, used = replayed_decision(trial, test, method, iterations, operator_iterations)
    round_seconds = _round_seconds(trial, iterations, operator_iterations)
    seconds = sum(round_seconds[:used]) + trial["rerun_seconds"] * used / len(round_seconds)
    return {key: c.verdict.value for key, c in comparisons.items()}, seconds


def replayed_decision(
    trial: dict, test, method: str, iterations: int | None = None, operator_iterations: int | None = None
) -> tuple[dict, int]:
    """The comparisons the harness's looks reach on the trial's rounds, and the rounds they took."""
    kept = {key: operator_iterations if is_operator(key) else iterations for key in trial["iterations"]}
    metrics = {
        key: (
            [round_statistic(_first(v, key, kept[key]), method) for v in arms["treatment"]],
            [round_statistic(_first(v, key, kept[key]), method) for v in arms["control"]],
        )
        for key, arms in trial["iterations"].items()
    }
    return decide_sequentially(metrics, test, _units(trial))


def _units(trial: dict) -> dict[str, str]:
    """Each metric's unit, which decides whether the absolute floor applies, as in the live runner.
    Samples saved before units were kept came from bench programs that time in microseconds."""
    if "units" in trial:
        return trial["units"]
    return {key: "us" for key in trial["iterations"] if key.endswith(" latency") and not is_resource_key(key)}


def _first(values: list[float], key: str, iterations: int | None) -> list[float]:
    return values if iterations is None or is_resource_key(key) else values[:iterations]


def _round_seconds(trial: dict, iterations: int | None, operator_iterations: int | None = None) -> list[float]:
    """Each round's device seconds, less the timed iterations a replay leaves out. The profiled
    pass's left-out time is the sum of its operators' kernel times in those iterations, which
    leaves out the profiler's own work and the gaps between kernels: the saving is understated."""
    if (iterations is None and operator_iterations is None) or "arm_seconds" not in trial:
        return trial["round_seconds"]
    net = trial["iterations"]["NET latency"]
    operators = [values for key, values in trial["iterations"].items() if is_operator(key)]
    if trial.get("operators_in_net"):
        operators = []
    seconds = []
    for index, (treatment, control) in enumerate(trial["arm_seconds"]):
        left_out = [
            _left_out(net[arm][index], iterations)
            + sum(_left_out(values[arm][index], operator_iterations) for values in operators)
            for arm in ("treatment", "control")
        ]
        walls = [treatment - left_out[0], control - left_out[1]]
        if trial.get("design") == "alternating":  # each process waited through its partner's turns too
            seconds.append(max(treatment, control) - sum(left_out))
        else:
            seconds.append(max(walls) if trial.get("design") == "duet" else sum(walls))
    return seconds


def _left_out(values: list[float], kept: int | None) -> float:
    """Seconds of the microsecond timings past the first `kept`."""
    return 0.0 if kept is None else sum(values[kept:]) / 1e6


def aipep_detects(trial: dict, test, method: str, slowed: str = SLOWED) -> tuple[bool, float]:
    verdicts, seconds = aipep_decides(trial, test, method)
    return verdicts[slowed] == "regression", seconds


def fai_pep_detects(trial: dict, slowed: str = SLOWED) -> bool:
    control_runs = trial["iterations"][slowed]["control"]
    latest = float(np.percentile(trial["iterations"][slowed]["treatment"][-1], 50))
    prior_p90 = [float(np.percentile(run, 90)) for run in control_runs]
    if len(prior_p90) < 5:
        return False
    threshold = float(np.percentile(prior_p90, 90)) + 0.1 * (max(prior_p90) - min(prior_p90))
    return latest > threshold


def pooled(trial: dict, slowed: str = SLOWED) -> tuple[np.ndarray, np.ndarray]:
    arms = trial["iterations"][slowed]
    return np.concatenate(arms["treatment"]), np.concatenate(arms["control"])


def asv_detects(trial: dict, slowed: str = SLOWED) -> bool:
    treatment, control = pooled(trial, slowed)
    p = scipy_stats.mannwhitneyu(treatment, control, alternative="two-sided").pvalue
    return p < 0.002 and np.median(treatment) / np.median(control) > 1.1


def pyperf_detects(trial: dict, slowed: str = SLOWED) -> bool:
    treatment, control = pooled(trial, slowed)
    p = scipy_stats.ttest_ind(treatment, control).pvalue
    return p < 0.05 and treatment.mean() > control.mean()


def google_benchmark_detects(trial: dict, slowed: str = SLOWED) -> bool:
    treatment, control = pooled(trial, slowed)
    p = scipy_stats.mannwhitneyu(treatment, control, alternative="two-sided").pvalue
    return p < 0.05 and np.median(treatment) > np.median(control)


def pinpoint_detects(trial: dict, slowed: str = SLOWED) -> bool:
    treatment, control = pooled(trial, slowed)
    p_ks = scipy_stats.ks_2samp(treatment, control).pvalue
    p_mw = scipy_stats.mannwhitneyu(treatment, control, alternative="two-sided").pvalue
    return min(p_ks, p_mw) <= 0.01 and np.median(treatment) > np.median(control)


OTHER_DETECTORS = {
    "FAI-PEP (p50 > p90 history)": fai_pep_detects,
    "asv continuous": asv_detects,
    "pyperf compare_to": pyperf_detects,
    "Google Benchmark compare.py": google_benchmark_detects,
    "Pinpoint": pinpoint_detects,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="A/B comparisons per slowdown")
    parser.add_argument("--slowdowns", default="0,1,2,5,10", help="percent of extra Conv work")
    parser.add_argument("--max_rounds", type=int, default=40)
    parser.add_argument("--min_rounds", type=int, default=8)
    parser.add_argument("--iter", type=int, help="iterations per process (default: 20, or the model spec's)")
    parser.add_argument("--load_workers", type=int, default=os.cpu_count() or 2, help="bursty load processes (0: none)")
    parser.add_argument("--save", type=Path, help="write every sample of every trial here (JSON)")
    parser.add_argument("--taskset", help="pin every benchmark process to these CPUs (platform_args.taskset)")
    parser.add_argument("--also_thresholds", default="1", help="more regression thresholds (percent) to replay")
    parser.add_argument(
        "--replay", help="report on samples saved by --save instead of measuring (a comma list pools the files' trials)"
    )
    parser.add_argument("--model", choices=["microkernel", *MODELS], default="microkernel")
    parser.add_argument("--slowdown_kind", choices=["net", "operator"], default="net", help="MobileNetV1 only")
    parser.add_argument("--operators", action="store_true", help="MobileNetV1: keep the profiled per-operator pass")
    parser.add_argument("--round_designs", default="sequential", help="comma list of sequential, duet, alternating")
    parser.add_argument("--fewer_iterations", default="5,10", help="replay on this many iterations per process")
    parser.add_argument(
        "--net_passes",
        help="MobileNetV1 on onnxruntime with --operators: comma list of own, operator (where NET is timed; "
        "default: the spec's net_in_operator_pass)",
    )
    args = parser.parse_args()
    slowdowns = [int(s) for s in args.slowdowns.split(",")]
    net_passes = _net_passes(parser, args)
    designs = [(design, net_pass) for design in args.round_designs.split(",") for net_pass in net_passes]
    thresholds = [float(t) for t in args.also_thresholds.split(",") if t]
    fewer = [int(k) for k in args.fewer_iterations.split(",") if k]
    if args.replay:
        saved = load_saved([Path(path) for path in args.replay.split(",")])
        base_test = _base_test(saved["model"], saved.get("operators", False))
        decision_test = dataclasses.replace(base_test, min_rounds=args.min_rounds, max_rounds=args.max_rounds)
        for design, trials in saved["trials"].items():
            trials = {int(s): t for s, t in trials.items()}
            report(trials, sorted(trials), decision_test, thresholds, saved["slowed"], design, fewer)
        return
    operators = args.operators or args.slowdown_kind == "operator"
    base_test = _base_test(args.model, operators)
    iterations = args.iter or (20 if args.model == "microkernel" else base_test.iter)
    live_test = dataclasses.replace(base_test, iter=iterations, min_rounds=args.max_rounds, max_rounds=args.max_rounds)
    if args.taskset:
        live_test = dataclasses.replace(live_test, platform_args={**live_test.platform_args, "taskset": args.taskset})
    decision_test = dataclasses.replace(base_test, min_rounds=args.min_rounds, max_rounds=args.max_rounds)
    work = Path(tempfile.mkdtemp(prefix="aipep-detection-"))
    platform = get_platform("host")
    trials: dict[str, dict[int, list[dict]]] = {_label(*design): {s: [] for s in slowdowns} for design in designs}
    device = platform.describe().details
    print(f"before: {load_average()}", file=sys.stderr, flush=True)
    try:
        runner, arms, slowed = _prepare(args.model, args.slowdown_kind, slowdowns, live_test, platform, work)
        started = time.time()
        with BurstyLoad(args.load_workers, seed=1234):
            for trial in range(args.trials):
                for slowdown in slowdowns:
                    for design, net_pass in designs if trial % 2 == 0 else designs[::-1]:
                        designed = dataclasses.replace(runner, test=_variant(live_test, design, net_pass))
                        trials[_label(design, net_pass)][slowdown].append(run_trial(designed, *arms[slowdown]))
                elapsed = time.time() - started
                print(
                    f"trial {trial + 1}/{args.trials} done ({elapsed:.0f} s, {load_average()})",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        platform.close()
        shutil.rmtree(work, ignore_errors=True)
    if args.save:
        document = {"model": args.model, "operators": operators, "slowed": slowed, "device": device, "trials": trials}
        args.save.write_text(json.dumps(document))
    for label, cells in trials.items():
        report(cells, slowdowns, decision_test, thresholds, slowed, label, fewer)


def _net_passes(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """Where each variant times NET: as asked, or as the model's spec does. Only onnxruntime's bench
    program with its operator pass on has a choice."""
    can_choose = args.model == "mobilenet_onnxruntime" and (args.operators or args.slowdown_kind == "operator")
    if args.net_passes is None:
        spec_asks = can_choose and _base_test(args.model, True).option("net_in_operator_pass") is True
        return ["operator" if spec_asks else "own"]
    net_passes = args.net_passes.split(",")
    if not set(net_passes) <= set(NET_PASSES):
        parser.error(f"--net_passes: expected a comma list of {', '.join(NET_PASSES)}, got {args.net_passes}")
    if "operator" in net_passes and not can_choose:
        parser.error("--net_passes operator: needs --model mobilenet_onnxruntime with its operator pass (--operators)")
    return net_passes


def _variant(test, design: str, net_pass: str):
    """The test as one variant runs it: its round design, and where NET is timed."""
    raw = {**test.raw, "net_in_operator_pass": net_pass == "operator"}
    return dataclasses.replace(test, round_design=design, raw=raw)


def _label(design: str, net_pass: str) -> str:
    return design if net_pass == "own" else f"{design}, NET timed in the operator pass"


def load_saved(paths: list[Path]) -> dict:
    """The trials of every file, pooled per round design and slowdown. Files measured on other
    machines pool only as honestly as their machines compare, so each file's device is printed."""
    pooled: dict = {}
    for path in paths:
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise SystemExit(f"{path}: cannot read saved trials ({error})") from None
        if "trials" not in saved:  # saved before round designs: microkernel trials keyed by slowdown
            saved = {"model": "microkernel", "slowed": SLOWED, "trials": {"sequential": saved}}
        counts = sum(len(trials) for cells in saved["trials"].values() for trials in cells.values())
        device = saved.get("device", {})
        described = f"{device['cpu_model']}, {device['logical_cores']} CPUs" if device else "device not recorded"
        print(f"{path}: {counts} trials; {described}")
        if not pooled:
            pooled = {key: saved.get(key, False) for key in ("model", "operators", "slowed")} | {"trials": {}}
        for key in ("model", "operators", "slowed"):
            if saved.get(key, False) != pooled[key]:
                raise SystemExit(f"{path}: {key} is {saved.get(key, False)!r}, the first file's is {pooled[key]!r}")
        for design, cells in saved["trials"].items():
            for slowdown, trials in cells.items():
                for trial in trials:  # saved before the key existed
                    trial.setdefault("operators_in_net", saved["model"] in OPERATORS_IN_NET)
                pooled["trials"].setdefault(design, {}).setdefault(slowdown, []).extend(trials)
    return pooled


def _base_test(model: str, operators: bool):
    spec = SPEC if model == "microkernel" else MODELS[model][0]
    test = load_benchmarks(spec)[0].tests[0]
    if model != "microkernel" and not operators:
        test = dataclasses.replace(test, raw={**test.raw, "operators": False})
    return test


def _prepare(model: str, kind: str, slowdowns: list[int], test, platform, work: Path):
    """The runner, each slowdown's (treatment, control) programs, and the metric that is slowed."""
    if model == "microkernel":
        control = build(work / "control", 100)
        arms = {s: (build(work / f"treatment_{s}", 100 + s), control) for s in slowdowns}
        return ArmRunner(get_framework("microkernel"), platform, test, {}, timeout=120), arms, SLOWED
    spec_path, role = MODELS[model]
    (benchmark,) = load_benchmarks(spec_path)
    (model_file,) = benchmark.model.files.values()
    model_path = work / model_file.filename
    generate_model(model_file.location.removeprefix("generated://"), model_path)
    framework = benchmark.model.format
    runner = ArmRunner(get_framework(framework), platform, test, {role: str(model_path)}, timeout=300)
    if kind == "net":
        arms = {
            s: (
                slowed_interpreter(work / f"treatment_{s}", framework, s),
                slowed_interpreter(work / "control", framework, 0),
            )
            for s in slowdowns
        }
        return runner, arms, "NET latency"
    if framework != "onnxruntime":
        raise SystemExit("--slowdown_kind operator: only onnxruntime reports per-operator times")
    variant = onnx_operator_variant(model_path, work / "variant.onnx", SLOWED_OPERATOR)
    control = slowed_interpreter(work / "control", framework, 0)
    treatment = slowed_interpreter(work / "treatment", framework, 0, swap=(model_path, variant))
    arms = {s: (treatment if s else control, control) for s in slowdowns}
    return runner, arms, SLOWED_OPERATOR_KEY


def report(
    trials: dict[int, list[dict]],
    slowdowns: list[int],
    test,
    extra_thresholds: list[float],
    slowed: str,
    design: str,
    fewer_iterations: list[int],
) -> None:
    """One row per detector; aipep once per round statistic, and again at other thresholds and
    on fewer iterations per process.

    A regression verdict needs the estimate above the spec's threshold, so a slowdown equal
    to the threshold is flagged only about half the time however good the data; the rows at
    a lower threshold show what the same samples give a user who cares about smaller changes.
    """
    every = [t for ts in trials.values() for t in ts]
    loads = [t["load"] for t in every if "load" in t]
    load = (
        f"; 1-min load average at trial ends: median {statistics.median(loads):.2f}, max {max(loads):.2f}"
        if loads
        else ""
    )
    counts = [len(trials[s]) for s in slowdowns]
    per_cell = (
        f"{counts[0]} trials per slowdown"
        if len(set(counts)) == 1
        else "trials per slowdown: " + ", ".join(f"{_cell(s)} {len(trials[s])}" for s in slowdowns)
    )
    print(f"\nround design: {design}; stop_when {test.stop_when}; {per_cell}; slowed: {slowed}{load}{_speed(every)}")
    columns = "".join(f"{_cell(s):>11}" for s in slowdowns)
    print(f"{'detector':44}" + columns + f"{'A/A no_change':>14}{'inconclusive':>13}{'med dev-s/verdict':>18}")
    variants = [(method, test, None) for method in STATISTICS]
    for threshold in extra_thresholds:
        variant = dataclasses.replace(test, regression_threshold=threshold)
        variants += [(DEFAULT_ROUND_STATISTIC, variant, None)]
        variants += [(DEFAULT_ROUND_STATISTIC, variant, k) for k in fewer_iterations]
    for method, variant, iterations in variants:
        rates, seconds, verdicts = [], [], []
        others_flagged = []
        for slowdown in slowdowns:
            decided = [aipep_decides(trial, variant, method, iterations) for trial in trials[slowdown]]
            rates.append(statistics.fmean(v[slowed] == "regression" for v, _ in decided))
            seconds.extend(s for _, s in decided)
            verdicts.append([v[slowed] for v, _ in decided])
            others_flagged.extend(
                any(value == "regression" for key, value in v.items() if key != slowed and not is_resource_key(key))
                for v, _ in decided
            )
        label = f"aipep ({method}{', default' if method == DEFAULT_ROUND_STATISTIC else ''})"
        if variant.regression_threshold != test.regression_threshold or iterations is not None:
            label = f"aipep ({method}, threshold {variant.regression_threshold:g}%"
            label += f", first {iterations} iter)" if iterations is not None else ")"
        no_change = statistics.fmean(v == "no_change" for v in verdicts[0]) if slowdowns[0] == 0 else float("nan")
        inconclusive = statistics.fmean(v == "inconclusive" for vs in verdicts for v in vs)
        print(
            f"{label:44}"
            + "".join(f"{r:>11.2f}" for r in rates)
            + f"{no_change:>14.2f}{inconclusive:>13.2f}{statistics.median(seconds):>18.1f}"
        )
        if any(others_flagged) and len(trial_keys(every)) > 1:
            print(f"{'':44}another metric flagged regression in {statistics.fmean(others_flagged):.2f} of trials")
    full = statistics.median(sum(t["round_seconds"]) + t["rerun_seconds"] for t in every)
    for name, detector in OTHER_DETECTORS.items():
        rates = [statistics.fmean(detector(trial, slowed) for trial in trials[s]) for s in slowdowns]
        print(f"{name:44}" + "".join(f"{r:>11.2f}" for r in rates) + f"{'':>14}{'':>13}{full:>18.1f}")
    reruns = [t["reruns"] for t in every]
    spread = [paired_spread(t, slowed) for t in every]
    print(
        f"other detectors see all {len(every[0]['round_seconds'])} rounds; disturbed rounds re-run per trial: "
        f"median {statistics.median(reruns)}, max {max(reruns)}; median device-seconds per round "
        f"{statistics.median(s for t in every for s in t['round_seconds']):.2f}; spread of the paired per-round "
        f"log-ratio of {slowed} ({DEFAULT_ROUND_STATISTIC}; MAD x 1.4826, median over trials): "
        f"{statistics.median(spread) * 100:.2f}%"
    )
    stopped = {
        slowdown: collections.Counter(replayed_decision(t, test, DEFAULT_ROUND_STATISTIC)[1] for t in trials[slowdown])
        for slowdown in slowdowns
    }
    cells = "; ".join(
        f"{_cell(slowdown)} " + ", ".join(f"{rounds}: {count}" for rounds, count in sorted(counts.items()))
        for slowdown, counts in stopped.items()
    )
    every_stop = [rounds for counts in stopped.values() for rounds in counts.elements()]
    print(
        f"rounds at which aipep ({DEFAULT_ROUND_STATISTIC}, default) stopped, trials per round count: {cells}; "
        "median over all trials "
        f"{statistics.median(every_stop):g} (rounds, unlike seconds, do not move with the VM's speed)"
    )
    for threshold in [test.regression_threshold, *extra_thresholds]:
        stop_rule_table(trials, slowdowns, dataclasses.replace(test, regression_threshold=threshold), slowed)
    if slowed == "NET latency":
        round_cost_table(every, slowed, [5, 10, 20, *fewer_iterations])
    if any(is_operator(key) for key in trial_keys(every)) and not all(t.get("operators_in_net") for t in every):
        operator_pass_table(trials, slowdowns, test, slowed, [10, 15, 20])
    if all("rerun_rounds" in t for t in every):
        for threshold in [test.regression_threshold, *extra_thresholds]:
            rerun_table(trials, slowdowns, dataclasses.replace(test, regression_threshold=threshold), slowed)


def _speed(trials: list[dict]) -> str:
    """How fast the machine ran the unchanged program: the control's NET p50 per trial, median over trials.
    It moves from one VM to the next, and so do the device-seconds every figure here is counted in."""
    medians = [
        statistics.median(v for run in t["iterations"]["NET latency"]["control"] for v in run)
        for t in trials
        if "NET latency" in t["iterations"]
    ]
    return f"; control NET p50 {statistics.median(medians) / 1000:.2f} ms" if medians else ""


def _cell(slowdown: int) -> str:
    return "FPR (A/A)" if slowdown == 0 else f"recall {slowdown}%"


def stop_rule_table(trials: dict[int, list[dict]], slowdowns: list[int], test, slowed: str) -> None:
    """The same trials replayed under each stop rule: what waiting for every operator's verdict buys
    (operators decided, the slowed one found) and what it costs (device seconds per verdict, per cell).
    Without operators both rows agree; the table then gives the device seconds cell by cell."""
    print(f"\nstop rules on the same samples ({DEFAULT_ROUND_STATISTIC}, threshold {test.regression_threshold:g}%):")
    cells = "".join(f"{_cell(s):>11}{'med s':>7}" for s in slowdowns)
    print(f"{'stop_when':14}{cells}{'A/A no_change':>14}{'ops inconclusive':>17}{'false op regressions':>21}")
    for rule in STOP_RULES:
        variant = dataclasses.replace(test, stop_when=rule)
        tally = replay(
            trials, slowdowns, slowed, functools.partial(aipep_decides, test=variant, method=DEFAULT_ROUND_STATISTIC)
        )
        cells = zip(tally.found, tally.seconds, strict=True)
        row = "".join(f"{found:>11.2f}{statistics.median(seconds):>7.1f}" for found, seconds in cells)
        print(f"{rule:14}{row}{tally.no_change:>14.2f}{tally.ops_inconclusive:>17.2f}{tally.false_ops_text:>21}")


def round_cost_table(every: list[dict], slowed: str, counts: list[int]) -> None:
    """What a round should hold: the paired spread and the device time of a round when each process
    keeps only its first k timed iterations. Rounds needed for a given precision grow with the
    spread squared, so seconds per round x spread^2 ranks the choices by device time per verdict."""
    full = len(every[0]["iterations"][slowed]["treatment"][0])
    rows = []
    for k in sorted({*counts, full}):
        if k > full:
            continue
        spread = statistics.median(paired_spread(t, slowed, k) for t in every)
        kept = None if k == full else k
        seconds = statistics.median(s for t in every for s in _round_seconds(t, kept, kept))
        rows.append((k, spread, seconds, seconds * spread**2))
    best = min(cost for *_, cost in rows)
    header = ("iterations per process", "paired spread", "device-s per round", "relative device-s per verdict")
    print(f"{header[0]:>24}{header[1]:>15}{header[2]:>20}{header[3]:>31}")
    for k, spread, seconds, cost in rows:
        print(f"{k:>24}{spread * 100:>14.2f}%{seconds:>20.2f}{cost / best:>31.2f}")


def operator_pass_table(
    trials: dict[int, list[dict]], slowdowns: list[int], test, slowed: str, counts: list[int]
) -> None:
    """What the profiled operator pass should hold: the same decisions with each process's NET pass
    whole and only the first k iterations of its operator pass, under the test's stop rule."""
    every = [t for ts in trials.values() for t in ts]
    full = len(every[0]["iterations"]["NET latency"]["treatment"][0])  # both passes run the test's `iter`
    print(
        f"\noperator pass on fewer iterations (NET keeps all; {DEFAULT_ROUND_STATISTIC}, threshold "
        f"{test.regression_threshold:g}%, stop_when {test.stop_when}):"
    )
    cells = "".join(f"{_cell(s):>11}" for s in slowdowns)
    spread = f"  spread of {slowed}" if is_operator(slowed) else ""
    print(
        f"{'operator iter':>14}{'dev-s/round':>12}{cells}{'A/A no_change':>14}{'ops inconclusive':>17}"
        f"{'false op regressions':>21}{'med dev-s/verdict':>18}{spread}"
    )
    for k in sorted({*counts, full}):
        if k > full:
            continue
        kept = None if k == full else k
        decide = functools.partial(aipep_decides, test=test, method=DEFAULT_ROUND_STATISTIC, operator_iterations=kept)
        tally = replay(trials, slowdowns, slowed, decide)
        per_round = statistics.median(s for t in every for s in _round_seconds(t, None, kept))
        if is_operator(slowed):
            spread = f"  {statistics.median(paired_spread(t, slowed, kept) for t in every) * 100:.2f}%"
        print(
            f"{k:>14}{per_round:>12.2f}{''.join(f'{found:>11.2f}' for found in tally.found)}{tally.no_change:>14.2f}"
            f"{tally.ops_inconclusive:>17.2f}{tally.false_ops_text:>21}"
            f"{statistics.median(s for seconds in tally.seconds for s in seconds):>18.1f}{spread}"
        )


def rerun_table(trials: dict[int, list[dict]], slowdowns: list[int], test, slowed: str) -> None:
    """Whether re-running a disturbed round pays: the same trials decided as the harness ran them
    (a disturbed round set aside and run again, its time charged) and with every disturbed round
    kept where it ran, as a harness that never re-runs would have had them."""
    print(
        f"\ndisturbed rounds re-run or kept ({DEFAULT_ROUND_STATISTIC}, threshold {test.regression_threshold:g}%, "
        f"stop_when {test.stop_when}):"
    )
    cells = "".join(f"{_cell(s):>11}" for s in slowdowns)
    print(
        f"{'disturbed rounds':17}{'spread':>9}{cells}{'A/A no_change':>14}{'ops inconclusive':>17}"
        f"{'false op regressions':>21}{'med dev-s/verdict':>18}"
    )
    decide = functools.partial(aipep_decides, test=test, method=DEFAULT_ROUND_STATISTIC)
    for label, variant in (("re-run", trials), ("kept", {s: [as_executed(t) for t in ts] for s, ts in trials.items()})):
        tally = replay(variant, slowdowns, slowed, decide)
        spread = statistics.median(paired_spread(t, slowed) for ts in variant.values() for t in ts)
        print(
            f"{label:17}{spread * 100:>8.2f}%{''.join(f'{found:>11.2f}' for found in tally.found)}"
            f"{tally.no_change:>14.2f}{tally.ops_inconclusive:>17.2f}{tally.false_ops_text:>21}"
            f"{statistics.median(s for seconds in tally.seconds for s in seconds):>18.1f}"
        )


@dataclasses.dataclass
class Replay:
    """What one way of deciding gives on every trial: per slowdown, the share that flagged the slowed
    metric and the device seconds of each verdict; the A/A share `no_change` (nan without an A/A);
    the operators left inconclusive and the operators other than the slowed one called regressions."""

    found: list[float]
    seconds: list[list[float]]
    no_change: float
    ops_inconclusive: float
    false_ops: int
    op_decisions: int

    @property
    def false_ops_text(self) -> str:
        return f"{self.false_ops} of {self.op_decisions}"


def replay(trials: dict[int, list[dict]], slowdowns: list[int], slowed: str, decide) -> Replay:
    """`decide(trial)` → (verdicts by key, device seconds) on every trial, tallied."""
    found, seconds, inconclusive, false_ops, no_change = [], [], [], [], math.nan
    for slowdown in slowdowns:
        decided = [decide(trial) for trial in trials[slowdown]]
        found.append(statistics.fmean(v[slowed] == "regression" for v, _ in decided))
        seconds.append([s for _, s in decided])
        if slowdown == 0:
            no_change = statistics.fmean(v[slowed] == "no_change" for v, _ in decided)
        for verdicts, _ in decided:
            operators = {key: v for key, v in verdicts.items() if is_operator(key)}
            inconclusive += [v == "inconclusive" for v in operators.values()]
            false_ops += [v == "regression" for key, v in operators.items() if key != slowed]
    share = statistics.fmean(inconclusive) if inconclusive else math.nan
    return Replay(found, seconds, no_change, share, sum(false_ops), len(false_ops))


def trial_keys(trials: list[dict]) -> set[str]:
    return {key for t in trials for key in t["iterations"] if not is_resource_key(key)}


def paired_spread(trial: dict, slowed: str, iterations: int | None = None) -> float:
    """Robust spread of ln(treatment/control) of the per-round statistic (on each process's first
    `iterations` only, when given): what a better round design should shrink."""
    arms = trial["iterations"][slowed]
    ratios = np.log(
        np.array([round_statistic(_first(v, slowed, iterations), DEFAULT_ROUND_STATISTIC) for v in arms["treatment"]])
        / np.array([round_statistic(_first(v, slowed, iterations), DEFAULT_ROUND_STATISTIC) for v in arms["control"]])
    )
    return float(np.median(np.abs(ratios - np.median(ratios))) * 1.4826)


if __name__ == "__main__":
    main()
