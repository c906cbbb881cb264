"""`aipep-report`: a report from the SQLite store, as one offline HTML file or Markdown with PNG figures.

It lives beside the store it reads (harness.store); the rendering itself is in `reports`,
which the results server shares, so a report looks the same from either.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from aipep_core.errors import UserError
from aipep_core.names import NET
from aipep_core.result_record import RunResult
from aipep_core.user_dirs import data_dir
from harness.stats.change_points import detect_change_points
from harness.store.result_store import ResultStore, RunNotFound
from reports.comparison_report import comparison_report
from reports.figures import Report
from reports.output import FORMATS, HTML, write_report
from reports.plotly_source import PlotlyMissing
from reports.png_figures import MatplotlibMissing
from reports.range_report import range_report
from reports.single_result import result_report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aipep-report", description="Write a report people open offline: HTML, or Markdown with PNG figures."
    )
    parser.add_argument("--db", default=str(data_dir() / "aipep.db"), help="SQLite store (default: %(default)s)")
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--last", action="store_true", help="the newest result in the store")
    chosen.add_argument("--result", metavar="ID", help="one result by its id")
    chosen.add_argument("--commits", metavar="A..B", help="the results of --model from commit A to commit B")
    chosen.add_argument("--compare", metavar="ID1,ID2,...", help="several results side by side")
    parser.add_argument("--model", help="the model of --commits")
    parser.add_argument("--format", choices=FORMATS, default=HTML, help="html (one file) or md (a folder)")
    parser.add_argument("--out", required=True, help="the HTML file, or the folder for report.md and figures/")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = chosen_report(args)
        try:
            written = write_report(report, Path(args.out), args.format)
        except OSError as error:
            raise UserError(f"--out: cannot write {args.out} ({error.strerror or error})") from None
    except sqlite3.DatabaseError as error:
        print(f"aipep-report: error: --db: {args.db} is not a readable aipep store ({error})", file=sys.stderr)
        return 2
    except (UserError, PlotlyMissing, MatplotlibMissing) as error:
        print(f"aipep-report: error: {error}", file=sys.stderr)
        return 2
    print(written)
    return 0


def chosen_report(args: argparse.Namespace) -> Report:
    database = Path(args.db)
    if not database.is_file():
        raise UserError(f"--db: {database} does not exist")
    with ResultStore(database) as store:
        if args.commits is not None:
            if not args.model:
                raise UserError("--commits: expected --model too (the model whose commits to report)")
            results = results_in_range(store, args.model, args.commits)
            return range_report(args.model, args.commits, results, level_changes(results))
        if args.compare is not None:
            return comparison_report([_load(store, run_id, "--compare") for run_id in _ids(args.compare)])
        if args.last:
            newest = store.find_runs(limit=1)
            if not newest:
                raise UserError(f"--last: {database} holds no results")
            return result_report(store.load_run(newest[0].id, include_logs=False))
        return result_report(_load(store, args.result, "--result"))


def results_in_range(store: ResultStore, model: str, commits: str) -> list[RunResult]:
    """The model's results from the first at commit A to the last at commit B, in commit order; prefixes match."""
    first, separator, last = commits.partition("..")
    if not separator or not first or not last:
        raise UserError(f"--commits: expected A..B (two commits), got {commits!r}")
    runs = sorted(store.find_runs(model=model), key=lambda run: (run.meta.get("commit_time") or 0, _started(run)))
    if not runs:
        raise UserError(f"--model: {store.path} holds no results of model {model!r}")
    starts = [index for index, run in enumerate(runs) if _commit(run).startswith(first.lower())]
    ends = [index for index, run in enumerate(runs) if _commit(run).startswith(last.lower())]
    if not starts:
        raise UserError(f"--commits: no result of model {model!r} at commit {first!r}")
    if not ends:
        raise UserError(f"--commits: no result of model {model!r} at commit {last!r}")
    if ends[-1] < starts[0]:
        raise UserError(f"--commits: commit {last!r} comes before {first!r}; expected OLDER..NEWER")
    return runs[starts[0] : ends[-1] + 1]


def level_changes(results: list[RunResult]) -> dict[str, list[int]]:
    """Per NET key, the indices into `results` where the median starts a new level (harness.stats.change_points)."""
    found = {}
    for key in sorted({key for result in results for key, metric in result.data.items() if metric.type == NET}):
        points = [
            (index, p50)
            for index, result in enumerate(results)
            if key in result.data and isinstance(p50 := result.data[key].summary.get("p50"), int | float)
        ]
        starts = detect_change_points([p50 for _, p50 in points])
        found[key] = [points[start][0] for start in starts]
    return found


def _load(store: ResultStore, run_id: str, flag: str) -> RunResult:
    try:
        return store.load_run(run_id, include_logs=False)
    except RunNotFound:
        raise UserError(f"{flag}: {store.path} holds no result with id {run_id!r}") from None


def _ids(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    if len(ids) < 2:
        raise UserError(f"--compare: expected two or more result ids separated by commas, got {text!r}")
    return ids


def _commit(run: RunResult) -> str:
    return str(run.meta.get("commit") or "").lower()


def _started(run: RunResult) -> float:
    started = run.meta.get("start_time")
    return started if isinstance(started, int | float) else 0.0
