"""`aipep-profile`: flags in, a sweep run, ranking and fit tables out, everything saved to SQLite."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from aipep_core.errors import UserError
from aipep_core.spec import load_benchmarks
from aipep_core.user_dirs import data_dir
from harness.cli_args import EXIT_FAILED_RUN, parse_string_map
from harness.profile.fit import QuotaFit, fit_quota_curve
from harness.profile.store import save_sweep
from harness.profile.sweep import Constraint, ProfilePoint, sweep
from platforms import get_platform

FitKey = tuple[str, str, int | None]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="aipep-profile",
        description="Run every model of a spec (or benchmark list) at every CPU quota and memory limit on this "
        "host, rank them per constraint and fit latency = a + b / cpus per model.",
    )
    parser.add_argument("-b", "--benchmark_file", required=True, help="a spec file or a FAI-PEP benchmark list")
    parser.add_argument("--string_map", help='JSON object {"NAME": "value"}: {NAME} in the specs becomes the value')
    parser.add_argument("--cpus", required=True, help="CPU quotas to measure, comma separated (0.25,0.5,1,2)")
    parser.add_argument("--memory_mb", help="memory limits in MB, comma separated; each is swept with every quota")
    parser.add_argument("--predict_cpus", type=float, help="a quota to predict each model's latency at")
    parser.add_argument("--program", help="the program to benchmark (default: the framework's own)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one benchmark process may take")
    parser.add_argument("--db", type=Path, help="SQLite file for points and fits (default: aipep's data dir)")
    return parser.parse_args(argv)


def parse_quotas(text: str, cores: int) -> list[float]:
    try:
        quotas = [float(item) for item in text.split(",")]
    except ValueError:
        raise UserError(f"--cpus: expected numbers separated by commas, got {text!r}") from None
    for quota in quotas:
        if not 0 < quota <= cores or not math.isfinite(quota):
            raise UserError(f"--cpus: expected quotas above 0 and at most {cores} (this machine's CPUs), got {quota:g}")
    return quotas


def parse_memory(text: str | None) -> list[int | None]:
    if text is None:
        return [None]
    try:
        limits = [int(item) for item in text.split(",")]
    except ValueError:
        raise UserError(f"--memory_mb: expected whole megabytes separated by commas, got {text!r}") from None
    if any(limit < 1 for limit in limits):
        raise UserError(f"--memory_mb: expected limits of at least 1 MB, got {text!r}")
    return limits


def fit_points(points: Sequence[ProfilePoint]) -> dict[FitKey, QuotaFit]:
    groups: dict[FitKey, list[ProfilePoint]] = {}
    for point in points:
        if point.mean_us is not None:
            groups.setdefault((point.model, point.test, point.memory_mb), []).append(point)
    fits = {}
    for key, group in groups.items():
        fit = fit_quota_curve([p.cpus for p in group], [p.mean_us for p in group], group[0].threads)
        if fit is not None:
            fits[key] = fit
    return fits


def print_rankings(points: Sequence[ProfilePoint], out: TextIO) -> None:
    constraints = sorted({(p.cpus, p.memory_mb or 0) for p in points})
    for cpus, memory in constraints:
        here = [p for p in points if p.cpus == cpus and (p.memory_mb or 0) == memory]
        # By the mean: under a quota it includes the throttled waits the median hides (harness/profile/sweep.py).
        ranked = sorted((p for p in here if p.mean_us is not None), key=lambda p: p.mean_us)
        print(f"\ncpus {cpus:g}" + (f", memory {memory} MB" if memory else ""), file=out)
        print(
            f"{'rank':>4}  {'model':<24} {'test':<20} {'p50 ms':>10} {'mean ms':>10} {'peak MB':>9} {'per s':>9}",
            file=out,
        )
        for rank, point in enumerate(ranked, start=1):
            peak = f"{point.peak_rss_mb:.1f}" if point.peak_rss_mb is not None else "-"
            print(
                f"{rank:>4}  {point.model:<24} {point.test:<20} {point.p50_us / 1e3:>10.3f} "
                f"{point.mean_us / 1e3:>10.3f} {peak:>9} "
                f"{point.throughput_per_s:>9.1f}",
                file=out,
            )
        for point in here:
            if point.p50_us is None:
                print(f"   -  {point.model:<24} {point.test:<20} failed: {point.failure}", file=out)


# Below this a fit explains too little of the points' spread for its trend to be trusted.
WEAK_FIT_R_SQUARED = 0.5


def print_fits(fits: dict[FitKey, QuotaFit], predict_cpus: float | None, out: TextIO) -> None:
    print("\nfit: mean latency = a + b / cpus", file=out)
    for (model, test, memory), fit in sorted(fits.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or 0)):
        where = f"{model} {test}" + (f" (memory {memory} MB)" if memory else "")
        line = f"{where}: a {fit.a / 1e3:.3f} ms, b {fit.b / 1e3:.3f} ms*cpus"
        line += f", R^2 {fit.r_squared:.4f} ({fit.points} quotas"
        line += f", capped at its {fit.max_cpus:g} threads)" if fit.max_cpus is not None else ")"
        if predict_cpus is not None:
            line += f"; predicted mean at cpus {predict_cpus:g}: {fit.predict(predict_cpus) / 1e3:.3f} ms"
        print(line, file=out)
        if not fit.r_squared >= WEAK_FIT_R_SQUARED:
            print(
                f"  note: R^2 below {WEAK_FIT_R_SQUARED:g}: latency hardly follows the quota here (other load on the "
                "machine holding the program below every quota, or a program using less CPU than the smallest "
                "quota); the prediction is little more than the points' level",
                file=out,
            )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        quotas = parse_quotas(args.cpus, os.cpu_count() or 1)
        memory_limits = parse_memory(args.memory_mb)
        if args.predict_cpus is not None and not args.predict_cpus > 0:
            raise UserError(f"--predict_cpus: expected a quota above 0, got {args.predict_cpus:g}")
        specs = load_benchmarks(args.benchmark_file, parse_string_map(args.string_map))
        constraints = [Constraint(cpus, memory) for memory in memory_limits for cpus in quotas]
        platform = get_platform("host", timeout=args.timeout)
        try:
            points = sweep(
                specs, constraints, platform, program=args.program, timeout=args.timeout, progress=sys.stderr
            )
        finally:
            platform.close()
    except UserError as error:
        print(f"aipep-profile: error: {error}", file=sys.stderr)
        return error.exit_status
    fits = fit_points(points)
    print_rankings(points, sys.stdout)
    print_fits(fits, args.predict_cpus, sys.stdout)
    database = args.db or data_dir() / "profiles.db"
    sweep_id = save_sweep(database, [str(spec.path) for spec in specs], points, fits, args.predict_cpus)
    print(f"\nsaved as sweep {sweep_id} in {database}")
    return EXIT_FAILED_RUN if any(point.p50_us is None for point in points) else 0
