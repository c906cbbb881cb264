"""`python -m repo_driver.demo`: one pass of the driver over a microkernel repository made on the spot.

Ten commits: one makes Conv do 10% more work, one breaks the build (the next fixes it).
The driver takes every third commit (`--step 3`), so the regression shows up over a range
of commits; it is verified by a second run in reversed order and bisected down to the
commit that caused it, skipping the commit that does not build.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from harness.store.result_store import ResultStore
from repo_driver.cli import main as driver_main
from repo_driver.demo.sample_repository import SampleRepository
from repo_driver.status import print_status
from repo_driver.stopping import EXIT_INTERRUPTED

SPEC = (
    Path(__file__).resolve().parents[2]
    / "specifications"
    / "models"
    / "microkernel"
    / "microkernel"
    / ("microkernel.json")
)

HISTORY = [
    ("Import microkernel", {}),
    ("Document the build flags", {}),
    ("Tidy Relu comments", {}),
    ("Unroll the MatMul inner loop", {}),
    ("Rework the Conv loop order", {"units": {"CONV": 110}}),
    ("Add notes on Softmax stability", {}),
    ("Start splitting helpers into files", {"broken": True}),
    ("Finish splitting helpers", {}),
    ("Update the README", {}),
    ("Clean up includes", {}),
]


def make_repository(root: Path) -> tuple[SampleRepository, list[str]]:
    sample = SampleRepository(root / "repos")
    hashes = [sample.commit(subject, **change) for subject, change in HISTORY]
    sample.clone()
    return sample, hashes


def run_demo(root: Path) -> int:
    sample, hashes = make_repository(root)
    print(f"demo: repository with {len(hashes)} commits at {sample.checkout_dir}", file=sys.stderr)
    db = root / "aipep.db"
    status = driver_main(
        [
            "--repo_dir", str(sample.checkout_dir),
            "--framework", "microkernel",
            "--exec_dir", str(root / "exec"),
            "--db", str(db),
            "--commit", hashes[0],
            "--step", "3",
            "--ab_testing", "--regression",
            "-b", str(SPEC),
            "--simple_local_reporter", str(root / "results"),
            "--model_cache", str(root / "models"),
        ]
    )  # fmt: skip
    if status == EXIT_INTERRUPTED:
        return status  # the driver said so in one line; a half-run demo has no verdict to print
    with ResultStore(db) as store:
        print()
        print_status(store.db, 10, sys.stdout)
        print()
        confirmed = list(store.db.query("SELECT * FROM driver_regressions WHERE state = 'confirmed'"))
        subjects = dict(store.db.execute("SELECT hash, subject FROM commits").fetchall())
    for regression in confirmed:
        culprit = regression["culprit_hash"]
        for key, estimate in json.loads(regression["estimates"]).items():
            identifier, metric = key.split("|", 1)
            operator = metric.split(" ", 1)[0]
            print(
                f"confirmed regression: culprit {culprit[:10]} {subjects.get(culprit)!r}: "
                f"{operator} {estimate:+.1f}% ({identifier})"
            )
    if not confirmed:
        print("no confirmed regression (the machine may be too noisy for a 10% Conv change; try again)")
    expected = hashes[4]
    print(f"(the demo's slow commit is {expected[:10]} {HISTORY[4][0]!r})")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m repo_driver.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="make everything in this directory and keep it")
    args = parser.parse_args(argv)
    try:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            return run_demo(args.keep)
        with tempfile.TemporaryDirectory(prefix="aipep-demo-") as directory:
            return run_demo(Path(directory))
    except KeyboardInterrupt:  # outside the driver, which stops on Ctrl-C by itself
        print("demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
