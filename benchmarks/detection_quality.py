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

    python benchmarks/detection_quality.py --trials 20 --save samples.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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
from aipep_core.spec import load_benchmarks  # noqa: E402
from frameworks import get_framework  # noqa: E402
from harness.ab_run import run_ab  # noqa: E402
from harness.arm import ArmRunner  # noqa: E402
from harness.sequential_decision import decide_sequentially  # noqa: E402
from harness.stats.summary import DEFAULT_ROUND_STATISTIC, round_statistic  # noqa: E402
from platforms import get_platform  # noqa: E402

SPEC = REPO / "specifications/models/microkernel/microkernel/microkernel.json"
BUILD = REPO / "specifications/frameworks/microkernel/host/build.sh"
SOURCE = REPO / "examples/microkernel"
SLOWED = "Conv latency"
STATISTICS = ("median", "p10", "trimmed_mean", "min")


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
        "round_seconds": [r["treatment"]["wall_seconds"] + r["control"]["wall_seconds"] for r in rounds],
        "rerun_seconds": sum(
            r["treatment"]["wall_seconds"] + r["control"]["wall_seconds"] for r in result.meta["rerun_rounds"]
        ),
        "reruns": len(result.meta["rerun_rounds"]),
        "disturbed": [r["disturbed"] for r in rounds],
        "iterations": {
            key: {
                "treatment": _per_round_values(result.data[key].values, len(rounds)),
                "control": _per_round_values(result.data[key].control_values, len(rounds)),
            }
            for key in keys
        },
    }


def _per_round_values(values: list[float], rounds: int) -> list[list[float]]:
    per_round = len(values) // rounds
    return [values[i * per_round : (i + 1) * per_round] for i in range(rounds)]


def aipep_detects(trial: dict, test, method: str) -> tuple[bool, float]:
    metrics = {
        key: (
            [round_statistic(v, method) for v in arms["treatment"]],
            [round_statistic(v, method) for v in arms["control"]],
        )
        for key, arms in trial["iterations"].items()
    }
    comparisons, used = decide_sequentially(metrics, test)
    seconds = sum(trial["round_seconds"][:used]) + trial["rerun_seconds"] * used / len(trial["round_seconds"])
    return comparisons[SLOWED].verdict.value == "regression", seconds


def fai_pep_detects(trial: dict) -> bool:
    control_runs = trial["iterations"][SLOWED]["control"]
    latest = float(np.percentile(trial["iterations"][SLOWED]["treatment"][-1], 50))
    prior_p90 = [float(np.percentile(run, 90)) for run in control_runs]
    if len(prior_p90) < 5:
        return False
    threshold = float(np.percentile(prior_p90, 90)) + 0.1 * (max(prior_p90) - min(prior_p90))
    return latest > threshold


def pooled(trial: dict) -> tuple[np.ndarray, np.ndarray]:
    arms = trial["iterations"][SLOWED]
    return np.concatenate(arms["treatment"]), np.concatenate(arms["control"])


def asv_detects(trial: dict) -> bool:
    treatment, control = pooled(trial)
    p = scipy_stats.mannwhitneyu(treatment, control, alternative="two-sided").pvalue
    return p < 0.002 and np.median(treatment) / np.median(control) > 1.1


def pyperf_detects(trial: dict) -> bool:
    treatment, control = pooled(trial)
    p = scipy_stats.ttest_ind(treatment, control).pvalue
    return p < 0.05 and treatment.mean() > control.mean()


def google_benchmark_detects(trial: dict) -> bool:
    treatment, control = pooled(trial)
    p = scipy_stats.mannwhitneyu(treatment, control, alternative="two-sided").pvalue
    return p < 0.05 and np.median(treatment) > np.median(control)


def pinpoint_detects(trial: dict) -> bool:
    treatment, control = pooled(trial)
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
    parser.add_argument("--iter", type=int, default=20, help="iterations per process")
    parser.add_argument("--load_workers", type=int, default=os.cpu_count() or 2, help="bursty load processes (0: none)")
    parser.add_argument("--save", type=Path, help="write every sample of every trial here (JSON)")
    parser.add_argument("--taskset", help="pin every benchmark process to these CPUs (platform_args.taskset)")
    parser.add_argument("--also_thresholds", default="1", help="more regression thresholds (percent) to replay")
    parser.add_argument("--replay", type=Path, help="report on samples saved by --save instead of measuring")
    args = parser.parse_args()
    slowdowns = [int(s) for s in args.slowdowns.split(",")]
    base_test = load_benchmarks(SPEC)[0].tests[0]
    live_test = dataclasses.replace(base_test, iter=args.iter, min_rounds=args.max_rounds, max_rounds=args.max_rounds)
    if args.taskset:
        live_test = dataclasses.replace(live_test, platform_args={**live_test.platform_args, "taskset": args.taskset})
    decision_test = dataclasses.replace(base_test, min_rounds=args.min_rounds, max_rounds=args.max_rounds)
    thresholds = [float(t) for t in args.also_thresholds.split(",") if t]
    if args.replay:
        trials = {int(s): t for s, t in json.loads(args.replay.read_text()).items()}
        report(trials, sorted(trials), decision_test, thresholds)
        return
    work = Path(tempfile.mkdtemp(prefix="aipep-detection-"))
    platform = get_platform("host")
    trials: dict[int, list[dict]] = {s: [] for s in slowdowns}
    try:
        control = build(work / "control", 100)
        treatments = {s: build(work / f"treatment_{s}", 100 + s) for s in slowdowns}
        runner = ArmRunner(get_framework("microkernel"), platform, live_test, {}, timeout=120)
        started = time.time()
        with BurstyLoad(args.load_workers, seed=1234):
            for trial in range(args.trials):
                for slowdown in slowdowns:
                    trials[slowdown].append(run_trial(runner, treatments[slowdown], control))
                elapsed = time.time() - started
                print(f"trial {trial + 1}/{args.trials} done ({elapsed:.0f} s)", file=sys.stderr, flush=True)
    finally:
        platform.close()
        shutil.rmtree(work, ignore_errors=True)
    if args.save:
        args.save.write_text(json.dumps({str(s): t for s, t in trials.items()}))
    report(trials, slowdowns, decision_test, thresholds)


def report(trials: dict[int, list[dict]], slowdowns: list[int], test, extra_thresholds: list[float]) -> None:
    """One row per detector; aipep once per round statistic, and again at other thresholds.

    A regression verdict needs the estimate above the spec's threshold, so a slowdown equal
    to the threshold is flagged only about half the time however good the data; the rows at
    a lower threshold show what the same samples give a user who cares about smaller changes.
    """
    header = f"{'detector':32}" + "".join(f"{'FPR (A/A)' if s == 0 else f'recall {s}%':>12}" for s in slowdowns)
    print(f"\n{len(trials[slowdowns[0]])} trials per slowdown; slowed operator: {SLOWED}")
    print(header + f"{'median dev-s/verdict':>22}")
    variants = [(method, test) for method in STATISTICS]
    variants += [(DEFAULT_ROUND_STATISTIC, dataclasses.replace(test, regression_threshold=t)) for t in extra_thresholds]
    for method, variant in variants:
        rates, seconds = [], []
        for slowdown in slowdowns:
            outcomes = [aipep_detects(trial, variant, method) for trial in trials[slowdown]]
            rates.append(statistics.fmean(hit for hit, _ in outcomes))
            seconds.extend(s for _, s in outcomes)
        label = f"aipep ({method}{', default' if method == DEFAULT_ROUND_STATISTIC else ''})"
        if variant.regression_threshold != test.regression_threshold:
            label = f"aipep ({method}, threshold {variant.regression_threshold:g}%)"
        print(f"{label:32}" + "".join(f"{r:>12.2f}" for r in rates) + f"{statistics.median(seconds):>22.1f}")
    full = statistics.median(sum(t["round_seconds"]) + t["rerun_seconds"] for ts in trials.values() for t in ts)
    for name, detector in OTHER_DETECTORS.items():
        rates = [statistics.fmean(detector(trial) for trial in trials[s]) for s in slowdowns]
        print(f"{name:32}" + "".join(f"{r:>12.2f}" for r in rates) + f"{full:>22.1f}")
    reruns = [t["reruns"] for ts in trials.values() for t in ts]
    print(
        f"\nother detectors see all {test.max_rounds} rounds; disturbed rounds re-run per trial: "
        f"median {statistics.median(reruns)}, max {max(reruns)}"
    )


if __name__ == "__main__":
    main()
