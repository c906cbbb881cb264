"""Slow-creep detection: aipep's change points against Apache Otava's, on the same histories.

The repo driver finds slow creep by change-point detection on each metric's history of
per-commit levels (repo_driver/creep.py, harness/stats/change_points.py). Apache Otava
(PyPI apache-otava; E-divisive means with a t-test merge, the method of MongoDB's and
DataStax's performance CI) is the maintained alternative. This script runs both on:

- synthetic histories with known changes: steps of 1% and 2%, a ramp of 0.2% per commit over
  20 commits, white noise (A/A) and white noise with one-sided outliers (a disturbed commit),
  with noise of 0.5% per commit; and the same on "chained" noise, a random walk of 0.25% per
  commit, which is what chaining per-commit A/B estimates into levels (as the driver does)
  makes of estimate errors;
- histories from a real driver run (--driver_dir): a microkernel repository made on the spot
  whose Conv does 0.2% more work per commit over 20 commits and whose MatMul takes one 5%
  step, followed by the driver (A/B per commit against the previous one, chained into levels
  exactly as repo_driver/creep.py does).

and prints, per detector and history kind: detection rate, false change points per 100
commits, and the median detection delay in commits (the detector is run again after every
commit, as the driver does; the delay is counted from the first commit of the change).
"aipep" is what the driver uses (single outlying commits clipped, then segmented), "aipep
unclipped" the segmentation alone; each detector's "alerts" rows put its change points under
the driver's alert rule (a level rise above 2%), which is what a user is told.

    python benchmarks/change_points_vs_otava.py --trials 100
    python benchmarks/change_points_vs_otava.py --trials 0 --driver_dir /tmp/d   # real run only

Otava pins numpy 2.2 and scipy 1.16 exactly and pulls BigQuery, gRPC, Postgres and Slack
clients, so it is not a dependency of aipep: install it next to aipep in a virtualenv of its
own (pip install apache-otava -e .) to run this script.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.stats.change_point_scoring import KnownChange, detection_delay, score  # noqa: E402
from harness.stats.change_points import detect_change_points  # noqa: E402
from repo_driver.creep import DEFAULT_THRESHOLD_PCT, level_changes, level_rises  # noqa: E402

NOISE = 0.005  # per-commit noise of a level, as a log ratio (0.5%)
CHAINED_NOISE = 0.0025  # per-commit noise of one A/B estimate, when levels chain estimates
TOLERANCE = 3  # commits a reported point may lie outside a change and still find it
LENGTH = 60


@dataclass(frozen=True)
class History:
    kind: str
    series: list[float]
    changes: list[KnownChange]


def _noise(rng: np.random.Generator, n: int, outliers: bool, chained: bool) -> np.ndarray:
    if chained:
        # The driver's levels chain per-commit A/B estimates, so their errors add up: a random walk.
        return np.cumsum(rng.normal(0.0, CHAINED_NOISE, n))
    noise = rng.normal(0.0, NOISE, n)
    if outliers:
        # One commit in 20 on a disturbed machine: 4-8 sigma, only ever slower.
        hit = rng.random(n) < 0.05
        noise[hit] += rng.uniform(4 * NOISE, 8 * NOISE, int(hit.sum()))
    return noise


def synthetic(kind: str, rng: np.random.Generator) -> History:
    """One history of LENGTH commits (levels as log ratios against the first commit)."""
    outliers = kind.endswith("+outliers")
    chained = kind.endswith("+chained")
    shape = kind.removesuffix("+outliers").removesuffix("+chained")
    level = np.zeros(LENGTH)
    changes: list[KnownChange] = []
    if shape.startswith("step"):
        size = float(shape.removeprefix("step ").removesuffix("%")) / 100.0
        at = int(rng.integers(20, 41))
        level[at:] = math.log1p(size)
        changes = [KnownChange(at, at)]
    elif shape == "ramp 0.2%x20":
        start = int(rng.integers(15, 26))
        steps = np.arange(1, 21) * math.log1p(0.002)
        level[start : start + 20] = steps
        level[start + 20 :] = steps[-1]
        changes = [KnownChange(start, start + 19)]
    elif shape != "white noise":
        raise ValueError(f"unknown history kind {kind!r}")
    return History(kind, (level + _noise(rng, LENGTH, outliers, chained)).tolist(), changes)


KINDS = (
    "white noise",
    "white noise+outliers",
    "step 1%",
    "step 2%",
    "step 2%+outliers",
    "ramp 0.2%x20",
    "ramp 0.2%x20+outliers",
    "white noise+chained",
    "step 2%+chained",
    "ramp 0.2%x20+chained",
)


def unclipped(series: Sequence[float]) -> list[int]:
    return detect_change_points(series)


def alerts(detect: Callable[[Sequence[float]], list[int]]) -> Callable[[Sequence[float]], list[int]]:
    """The commits the driver would raise a creep alert at, with `detect` finding the levels."""

    def alerted(series: Sequence[float]) -> list[int]:
        return [start for start, _ in level_rises(series, DEFAULT_THRESHOLD_PCT, detect)]

    return alerted


def otava_detector(max_pvalue: float) -> Callable[[Sequence[float]], list[int]]:
    from otava.analysis import compute_change_points

    def detect(series: Sequence[float]) -> list[int]:
        if len(series) < 2:
            return []
        change_points, _ = compute_change_points(list(series), window_len=50, max_pvalue=max_pvalue)
        return sorted(int(point.index) for point in change_points)

    return detect


@dataclass
class Tally:
    changes: int = 0
    found: int = 0
    false_points: int = 0
    commits: int = 0
    delays: list[int] | None = None
    seconds: float = 0.0

    def add(self, detect, history: History, with_delay: bool) -> None:
        started = time.perf_counter()
        result = score(detect(history.series), history.changes, TOLERANCE)
        self.changes += len(history.changes)
        self.found += result.found
        self.false_points += result.false_points
        self.commits += len(history.series)
        if with_delay:
            self.delays = self.delays or []
            for change in history.changes:
                delay = detection_delay(detect, history.series, change, TOLERANCE)
                if delay is not None:
                    self.delays.append(delay)
        self.seconds += time.perf_counter() - started

    def row(self) -> str:
        rate = f"{self.found / self.changes:.2f}" if self.changes else "-"
        false_rate = 100.0 * self.false_points / self.commits if self.commits else float("nan")
        delay = f"{statistics.median(self.delays):.0f}" if self.delays else "-"
        return f"{rate:>9} {false_rate:>13.2f} {delay:>13} {self.seconds:>9.1f}"


RAMP_START, STEP_AT, COMMITS = 6, 15, 32


def run_driver(directory: Path, rounds: int) -> Path:
    """Run the repo driver over a sample microkernel repository with known creep; its database."""
    from repo_driver.cli import main as driver_main
    from repo_driver.demo.sample_repository import SampleRepository

    spec = REPO / "specifications/models/microkernel/microkernel/microkernel.json"
    sample = SampleRepository(directory / "repos")
    ramp_start, step_at, commits = RAMP_START, STEP_AT, COMMITS
    hashes = []
    for index in range(commits):
        conv = 500 + max(0, min(index, ramp_start + 19) - ramp_start + 1)  # +1 unit = +0.2% of Conv
        matmul = 105 if index >= step_at else 100
        hashes.append(sample.commit(f"commit {index}", units={"CONV": conv, "MATMUL": matmul}))
    sample.clone()
    db = directory / "aipep.db"
    status = driver_main([
        "--repo_dir", str(sample.checkout_dir), "--framework", "microkernel",
        "--exec_dir", str(directory / "exec"), "--db", str(db), "--commit", hashes[0], "--step", "1",
        "--ab_testing", "-b", str(spec), "--model_cache", str(directory / "models"),
        "--min_rounds", str(rounds), "--max_rounds", str(rounds),
    ])  # fmt: skip
    if status != 0:
        raise SystemExit(f"the driver exited {status}")
    return db


def driver_histories(db: Path) -> list[History]:
    """Each metric's chained levels, exactly as repo_driver/creep.py reads them, with the known truth."""
    from harness.store.result_store import ResultStore
    from repo_driver.creep import levels
    from repo_driver.state.driver_state import DriverState

    ramp_start, step_at = RAMP_START, STEP_AT
    with ResultStore(db) as store:
        ((repo, framework),) = store.db.execute("SELECT DISTINCT repo, framework FROM driver_runs").fetchall()
        found = levels(DriverState(store, repo, framework), "host")
    truth = {
        "Conv latency": [KnownChange(ramp_start, ramp_start + 19)],
        "MatMul latency": [KnownChange(step_at, step_at)],
        "Relu latency": [],
        "MaxPool latency": [],
        "Softmax latency": [],
    }
    return [
        History(f"driver {key}", [level for _, level in points], truth[key])
        for (_, key), points in sorted(found.items())
        if key in truth
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100, help="synthetic histories per kind")
    parser.add_argument("--delay_trials", type=int, default=20, help="of which this many also measure the delay")
    parser.add_argument("--driver_dir", type=Path, help="run the driver here for real histories (takes minutes)")
    parser.add_argument("--driver_rounds", type=int, default=8)
    parser.add_argument("--driver_db", type=Path, help="read the histories of a driver run made before")
    args = parser.parse_args()
    detectors = {
        "aipep unclipped": unclipped,
        "aipep": level_changes,
        "otava p<0.001": otava_detector(0.001),
        "otava p<0.05": otava_detector(0.05),
    }
    detectors.update({f"{name} alerts": alerts(detect) for name, detect in list(detectors.items())})
    rng = np.random.default_rng(17)
    histories = [synthetic(kind, rng) for kind in KINDS for _ in range(args.trials)]
    if args.driver_dir is not None:
        args.driver_dir.mkdir(parents=True, exist_ok=True)
        histories += driver_histories(run_driver(args.driver_dir, args.driver_rounds))
    elif args.driver_db is not None:
        histories += driver_histories(args.driver_db)
    print(f"load average {os.getloadavg()}; {args.trials} synthetic histories of {LENGTH} commits per kind")
    print(f"{'history':<24} {'detector':<22} {'detection':>9} {'false/100 c':>13} {'median delay':>13} {'seconds':>9}")
    for kind in dict.fromkeys(history.kind for history in histories):
        of_kind = [history for history in histories if history.kind == kind]
        for name, detect in detectors.items():
            tally = Tally()
            for number, history in enumerate(of_kind):
                tally.add(detect, history, with_delay=number < args.delay_trials)
            print(f"{kind:<24} {name:<22} {tally.row()}")
    for history in histories:
        if history.kind.startswith("driver"):
            found = {name: detect(history.series) for name, detect in detectors.items()}
            steps = np.diff(history.series)
            print(
                f"{history.kind}: {len(history.series)} commits, level {100 * math.expm1(history.series[-1]):+.1f}%, "
                f"sd of per-commit steps {100 * float(np.std(steps)):.2f}%; truth "
                + ", ".join(f"{c.start}..{c.end}" for c in history.changes)
                + "; "
                + "; ".join(f"{n} {p}" for n, p in found.items())
            )
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
