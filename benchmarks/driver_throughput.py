"""How fast the repo driver gets through a repository, and what a bisection costs.

Figures, on a microkernel repository generated in a temp dir:

* commits per hour and device-seconds per commit for one pass over N new commits
  (no regressions), with builds overlapping benchmarking (the default) and with
  `--same_host` (builds and benchmarks alternate). Device-seconds are the wall time
  of the benchmark processes the harness reports (`meta.device_seconds`), summed over
  the pass's A/B runs; the pass's wall time also counts builds, worktrees, git and
  the harness's own work.
  "other s/commit" is what the pass spent per commit besides benchmark processes:
  builds not hidden behind a benchmark, git, the harness and the database.
* how many A/B runs a bisection of a range of 16 commits needs, for several culprit
  positions: the range end is benchmarked with `--step 16`, verified, then bisected.

The throughput pass uses the shipped microkernel spec (adaptive 8..40 rounds); the
bisection uses a short spec and a 4x Conv slowdown, since only the count matters there.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from harness.store.result_store import ResultStore  # noqa: E402
from repo_driver.cli import main as driver_main  # noqa: E402
from repo_driver.demo.sample_repository import SampleRepository  # noqa: E402

SPEC = REPO / "specifications" / "models" / "microkernel" / "microkernel" / "microkernel.json"
SHORT_TEST = {
    "identifier": "microkernel_short",
    "metric": "delay",
    "warmup": 1,
    "iter": 6,
    "commands": ["{program} --warmup {warmup} --iter {iter}"],
    "regression_threshold": 50,
    "min_rounds": 8,
    "max_rounds": 8,
}


def driver_argv(sample: SampleRepository, root: Path, spec: Path, first: str, *extra: str) -> list[str]:
    return [
        "--repo_dir", str(sample.checkout_dir),
        "--framework", "microkernel",
        "--exec_dir", str(root / "exec"),
        "--db", str(root / "aipep.db"),
        "--commit", first,
        "--ab_testing", "--regression",
        "-b", str(spec),
        "--simple_local_reporter", str(root / "results"),
        "--model_cache", str(root / "models"),
        *extra,
    ]  # fmt: skip


def quietly(argv: list[str], log: io.StringIO) -> int:
    with contextlib.redirect_stderr(log), contextlib.redirect_stdout(log):
        return driver_main(argv)


def throughput(commits: int, same_host: bool, log: io.StringIO) -> dict:
    with tempfile.TemporaryDirectory(prefix="aipep-throughput-") as directory:
        root = Path(directory)
        sample = SampleRepository(root / "repos")
        base = sample.commit("Import microkernel")
        sample.clone()
        # The baseline is built and run first, outside the timed pass.
        quietly(driver_argv(sample, root, SPEC, base), log)
        sample_new = [sample.commit(f"Change {n + 1}") for n in range(commits)]
        started = time.perf_counter()
        quietly(driver_argv(sample, root, SPEC, base, *(["--same_host"] if same_host else [])), log)
        wall = time.perf_counter() - started
        with ResultStore(root / "aipep.db") as store:
            rows = store.db.execute(
                "SELECT r.meta FROM runs r JOIN driver_runs d ON d.run_id = r.id WHERE d.hash IN"
                f" ({', '.join('?' for _ in sample_new)})",
                sample_new,
            ).fetchall()
        device = sum(json.loads(meta).get("device_seconds") or 0.0 for (meta,) in rows)
    return {"commits": commits, "wall_s": wall, "per_hour": 3600.0 * commits / wall, "device_s": device / commits}


def bisection_runs(culprit: int, log: io.StringIO) -> tuple[int, bool]:
    """A/B runs the bisection of (base, base+16] took, and whether it named the right commit."""
    with tempfile.TemporaryDirectory(prefix="aipep-bisect-") as directory:
        root = Path(directory)
        spec = root / "short.json"
        spec.write_text(json.dumps({"model": {"name": "microkernel", "format": "microkernel", "files": {}},
                                    "tests": [SHORT_TEST]}))  # fmt: skip
        sample = SampleRepository(root / "repos")
        base = sample.commit("Import microkernel")
        line = [sample.commit(f"Change {n}", units={"CONV": 400} if n >= culprit else None) for n in range(1, 17)]
        sample.clone()
        quietly(driver_argv(sample, root, spec, base, "--step", "16", "--same_host"), log)
        with ResultStore(root / "aipep.db") as store:
            runs = store.db.execute("SELECT count(*) FROM driver_runs WHERE role = 'bisect'").fetchone()[0]
            named = store.db.execute("SELECT culprit_hash FROM driver_regressions").fetchall()
    return runs, named == [(line[culprit - 1],)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=6, help="new commits per timed pass")
    parser.add_argument("--culprits", default="1,5,8,11,16", help="culprit positions (1..16) to bisect")
    parser.add_argument("--log", type=Path, help="write the driver's and harness's output here")
    args = parser.parse_args()
    log = io.StringIO()
    try:
        print(f"one pass over {args.commits} new commits, shipped microkernel spec (8..40 rounds per A/B):")
        print(f"{'mode':<22}{'wall s':>9}{'commits/hour':>15}{'device-s/commit':>18}{'other s/commit':>17}")
        for same_host in (False, True):
            figures = throughput(args.commits, same_host, log)
            mode = "--same_host" if same_host else "builds overlapped"
            other = figures["wall_s"] / args.commits - figures["device_s"]
            print(
                f"{mode:<22}{figures['wall_s']:>9.1f}{figures['per_hour']:>15.0f}{figures['device_s']:>18.2f}"
                f"{other:>17.2f}"
            )
        print("bisection of a range of 16 commits (A/B runs after the verified range end):")
        for culprit in (int(text) for text in args.culprits.split(",")):
            runs, right = bisection_runs(culprit, log)
            print(f"  culprit at {culprit:>2}/16: {runs} A/B runs, {'right' if right else 'WRONG'} commit named")
    finally:
        if args.log:
            args.log.write_text(log.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
