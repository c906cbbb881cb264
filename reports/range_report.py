"""The report of a commit range: NET and the operators that regressed, commit by commit, and the regressions found.

The repo driver stores one result per commit (and A/B results against the previous
commit); laid out in commit order they show where a step or a slow creep began.
"""

from __future__ import annotations

from aipep_core import number_format
from aipep_core.names import NET
from aipep_core.result_record import RunResult
from aipep_core.verdict import Verdict
from reports.figures import Lines, Marker, Report, Section, Series, Table

# Operator lines beside NET: more than this and the figure cannot be read.
MOST_OPERATOR_LINES = 6


def range_report(
    model: str, commits: str, results: list[RunResult], level_changes: dict[str, list[int]] | None = None
) -> Report:
    """`results` in commit order, oldest first; `level_changes` maps a NET key to the indices (into
    `results`) where its median settles at a new level (found by the caller, which has the statistics)."""
    level_changes = level_changes or {}
    ticks = tuple(_short(result.meta.get("commit")) for result in results)
    sections = [
        Section(
            "Range",
            facts=(("Model", model), ("Commits", commits), ("Results", str(len(results)))),
        )
    ]
    net_keys = sorted({key for result in results for key, metric in result.data.items() if metric.type == NET})
    figures = [_over_commits(results, key, ticks, level_changes.get(key, [])) for key in net_keys]
    operators = regressed_operators(results)
    if operators:
        figures.append(_operators_over_commits(results, operators, ticks))
    sections.append(Section("Over commits", paragraphs=("Median with its p10–p90 band.",), figures=tuple(figures)))
    sections.append(Section("Regressions", tables=(regressions_table(results),)))
    sections.append(
        Section(
            "Level changes",
            paragraphs=("Where a NET median settles at a new level: a step, or the end of a slow creep.",),
            tables=(level_changes_table(results, level_changes),),
        )
    )
    return Report(title=f"{model} {commits}", sections=tuple(sections))


def regressed_operators(results: list[RunResult]) -> list[str]:
    found = []
    for result in results:
        for key, metric in result.data.items():
            comparison = metric.comparison
            if metric.type != NET and comparison and comparison.verdict is Verdict.REGRESSION and key not in found:
                found.append(key)
    return found[:MOST_OPERATOR_LINES]


def regressions_table(results: list[RunResult]) -> Table:
    rows = []
    for result in results:
        for key, metric in result.data.items():
            comparison = metric.comparison
            if comparison is None or comparison.verdict is not Verdict.REGRESSION:
                continue
            rows.append(
                (
                    str(result.meta.get("commit", number_format.MISSING)),
                    str(result.meta.get("control_commit", number_format.MISSING)),
                    key,
                    number_format.percent_change(comparison.estimate_pct),
                    number_format.percent_interval(comparison.ci_low_pct, comparison.ci_high_pct),
                    str(result.meta.get("run_type", number_format.MISSING)),
                    result.id,
                )
            )
    return Table(("Culprit commit", "Against", "Metric", "Change", "95% interval", "Run", "Result"), tuple(rows))


def level_changes_table(results: list[RunResult], level_changes: dict[str, list[int]]) -> Table:
    rows = []
    for key, starts in sorted(level_changes.items()):
        for start in starts:
            before, after = _p50(results[start - 1], key), _p50(results[start], key)
            change = 100.0 * (after / before - 1.0) if before and after is not None else None
            rows.append(
                (
                    key,
                    str(results[start].meta.get("commit", number_format.MISSING)),
                    number_format.percent_change(change),
                )
            )
    return Table(("Metric", "First commit at the new level", "Change from the commit before"), tuple(rows))


def _p50(result: RunResult, key: str) -> float | None:
    metric = result.data.get(key)
    return metric.summary.get("p50") if metric is not None else None


def _over_commits(results: list[RunResult], key: str, ticks: tuple[str, ...], starts: list[int]) -> Lines:
    series = _series(results, key)
    unit = next((result.data[key].unit for result in results if key in result.data), "")
    markers = tuple(Marker(float(start), "new level") for start in starts)
    return Lines(f"commits-{key}", f"{key} over commits", "commit", unit, (series,), markers, ticks)


def _operators_over_commits(results: list[RunResult], keys: list[str], ticks: tuple[str, ...]) -> Lines:
    series = tuple(_series(results, key) for key in keys)
    return Lines("commits-operators", "Regressed operators over commits (p50)", "commit", "", series, x_ticks=ticks)


def _series(results: list[RunResult], key: str) -> Series:
    x, y, low, high = [], [], [], []
    for index, result in enumerate(results):
        metric = result.data.get(key)
        p50 = metric.summary.get("p50") if metric is not None else None
        if p50 is None:
            continue
        x.append(float(index))
        y.append(p50)
        low.append(metric.summary.get("p10") if metric.summary.get("p10") is not None else p50)
        high.append(metric.summary.get("p90") if metric.summary.get("p90") is not None else p50)
    return Series(key, tuple(x), tuple(y), tuple(low), tuple(high))


def _short(commit: object) -> str:
    return number_format.MISSING if not commit else str(commit)[:10]
