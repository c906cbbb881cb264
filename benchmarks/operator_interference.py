"""Does making one operator slower move the others' times on this machine?

Per-operator verdicts assume an operator's time is its own: slow Conv down and only Conv (and
NET) should come out slower. On real hardware that can be false: what ran just before an
operator (how long the core has been busy, what a shared core's sibling did meanwhile) changes
how fast it runs, and a verdict that flags an untouched operator may be reporting a real
slowdown of that operator, caused by its neighbour. Which operator a test may safely slow, and
how much a flagged neighbour can be trusted, is a property of the machine; this measures it.

One build of the microkernel runs with each operator in turn given `--work OP=UNITS` (three
times its work by default) and once as it is; the configurations run interleaved, repeat after
repeat, each a fresh process. Per process each operator's time is the median of its iterations;
the table shows, for each slowed operator (row), every operator's change against the unchanged
runs of the same repeat (median over repeats). An "A/A" row, the unchanged program against a
second unchanged process of the same repeat, shows the noise the other rows stand against.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from frameworks.observer_lines import parse_observer_output  # noqa: E402

BUILD = REPO / "specifications/frameworks/microkernel/host/build.sh"
SOURCE = REPO / "examples/microkernel"
OPERATORS = ("Conv", "Relu", "MaxPool", "MatMul", "Softmax")
RUN_TIMEOUT_S = 300
UNCHANGED = "unchanged"
AA = "A/A"


def build(destination: Path) -> Path:
    subprocess.run(["sh", str(BUILD), str(SOURCE), str(destination)], check=True, capture_output=True)
    return destination


def operator_medians(program: Path, work: list[str], iterations: int) -> dict[str, float]:
    """One fresh process: each operator's and NET's median iteration time in microseconds."""
    done = subprocess.run(
        [str(program), *work, "--warmup", "5", "--iter", str(iterations)],
        capture_output=True,
        text=True,
        check=True,
        timeout=RUN_TIMEOUT_S,
    )
    parsed = parse_observer_output(done.stdout)
    return {sample.type: statistics.median(sample.values) for sample in parsed if sample.metric == "latency"}


def change_pct(changed: float, unchanged: float) -> float:
    return 100.0 * (changed / unchanged - 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeats", type=int, default=14, help="interleaved repeats of every configuration (7 make one full rotation)"
    )
    parser.add_argument("--iter", type=int, default=60, help="timed iterations per process")
    parser.add_argument("--units", type=int, default=300, help="work units of the slowed operator (100: unchanged)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aipep-interference-") as scratch:
        program = build(Path(scratch) / "microkernel")
        configurations = [
            (UNCHANGED, []),
            (AA, []),
            *((operator, ["--work", f"{operator}={args.units}"]) for operator in OPERATORS),
        ]
        changes: dict[str, list[dict[str, float]]] = {name: [] for name, _ in configurations[1:]}
        for repeat in range(args.repeats):
            # Each repeat starts one configuration later, so none always runs first or last.
            shift = repeat % len(configurations)
            measured = {
                name: operator_medians(program, work, args.iter)
                for name, work in [*configurations[shift:], *configurations[:shift]]
            }
            unchanged = measured.pop(UNCHANGED)
            for name, times in measured.items():
                changes[name].append({key: change_pct(times[key], unchanged[key]) for key in unchanged})
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr, flush=True)

    columns = ["NET", *OPERATORS]
    print(f"each operator's change, median of {args.repeats} repeats; row: the operator given {args.units} units")
    print(f"{'slowed':>8} " + " ".join(f"{column:>9}" for column in columns))
    for name, repeats in changes.items():
        cells = [f"{statistics.median(r[column] for r in repeats):+8.1f}%" for column in columns]
        print(f"{name:>8} " + " ".join(cells))


if __name__ == "__main__":
    main()
