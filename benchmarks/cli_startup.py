"""How long aipep's commands take to start, and which imports the time goes to.

Every aipep process pays its imports before it does anything: a user's first `--help`, each
harness run the repo driver or a lab worker launches, each usage mistake that should be one
quick line. This prints, per command, the median wall time of `--help` over interleaved
repeats, and for the harness the packages that cost the most to import (`python -X
importtime`), each with the aipep module that pulled it in.

With `--baseline REV` the same commands also run from a temporary git worktree of REV under
the same interpreter, side by side with this checkout, and the ratio of the two.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "aipep-bench --help": ["run_bench.py", "--help"],
    "harness --help": ["-m", "harness", "--help"],
    "repo_driver --help": ["-m", "repo_driver", "--help"],
    "aipep-lab --help": ["-m", "lab", "--help"],
}
OURS = {"aipep_core", "harness", "frameworks", "platforms", "repo_driver", "reports", "server", "lab", "run_bench"}
COMMAND_TIMEOUT_S = 120


def wall_time(tree: Path, arguments: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *arguments],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    return time.perf_counter() - start


@dataclass(frozen=True)
class Import:
    name: str
    depth: int
    cumulative_us: int


def harness_imports(tree: Path) -> list[Import]:
    """The import tree of the harness's command line, in the order -X importtime prints it."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import harness.cli"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    imports = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        imports.append(Import(name.strip(), depth, int(cumulative)))
    return imports


def costly_imports(imports: list[Import], count: int) -> list[tuple[Import, str]]:
    """Third-party modules that aipep modules import directly, by cumulative import time, each with
    its importer: importtime prints a module after everything it imported, so its importer is the
    next line one level up."""
    found = []
    for index, entry in enumerate(imports):
        if entry.depth == 0 or entry.name.split(".")[0] in OURS:
            continue
        importer = next(later for later in imports[index + 1 :] if later.depth < entry.depth)
        if importer.name.split(".")[0] in OURS:
            found.append((entry, importer.name))
    return sorted(found, key=lambda pair: -pair[0].cumulative_us)[:count]


def worktree(rev: str, directory: Path) -> Path:
    path = directory / "baseline"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(path), rev], check=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats per command (default 7)")
    parser.add_argument("--baseline", metavar="REV", help="also time the commands of this git revision")
    parser.add_argument("--packages", type=int, default=8, help="how many costly imports to list (default 8)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="aipep-cli-startup-") as scratch:
        trees = {"this checkout": REPO}
        if args.baseline:
            trees = {args.baseline: worktree(args.baseline, Path(scratch)), **trees}
        try:
            times: dict[tuple[str, str], list[float]] = {}
            for tree in trees.values():  # the first start compiles .pyc files; it is not timed
                for arguments in COMMANDS.values():
                    wall_time(tree, arguments)
            for repeat in range(args.repeats):
                print(f"repeat {repeat + 1}/{args.repeats}", file=sys.stderr)
                for label, tree in trees.items():
                    for command, arguments in COMMANDS.items():
                        times.setdefault((label, command), []).append(wall_time(tree, arguments))
            print(f"median wall time of {args.repeats} starts, seconds ({sys.executable} {sys.version.split()[0]})")
            header = f"{'command':<22}" + "".join(f"{label:>16}" for label in trees)
            print(header + ("   ratio" if len(trees) == 2 else ""))
            for command in COMMANDS:
                medians = [statistics.median(times[(label, command)]) for label in trees]
                row = f"{command:<22}" + "".join(f"{median:>16.2f}" for median in medians)
                print(row + (f"   {medians[1] / medians[0]:.2f}" if len(medians) == 2 else ""))
            for label, tree in trees.items():
                imports = harness_imports(tree)
                total = next(entry.cumulative_us for entry in imports if entry.name == "harness.cli")
                print(f"\nimporting harness.cli, {label}: {total / 1000:.0f} ms; the costliest imports")
                for entry, importer in costly_imports(imports, args.packages):
                    print(f"  {entry.cumulative_us / 1000:7.0f} ms  {entry.name:<22} imported by {importer}")
        finally:
            if args.baseline:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(trees[args.baseline])])
    return 0


if __name__ == "__main__":
    sys.exit(main())
