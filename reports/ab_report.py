"""The report of an A/B result: what changed, how sure, how the rounds went and why the run stopped.

A reviewer reads it top-down: regressions first in the forest plot, then whether the
evidence was steady over the rounds (re-run and disturbed rounds marked), then the raw
distributions behind the changes that matter, then the stopping decision.
"""

from __future__ import annotations

import math
from typing import Any

from aipep_core import number_format
from aipep_core.names import CONTROL, NET, TREATMENT
from aipep_core.resource_metrics import PROCESS
from aipep_core.result_record import MetricResult, RunResult, unmeasured_notes
from aipep_core.spec import NET_DECIDED
from aipep_core.verdict import NOT_JUDGED, VERDICT_ORDER, Verdict
from reports.figures import Distributions, Forest, ForestRow, Lines, Marker, Report, Section, Series, Table
from reports.result_facts import origin_facts

# Beyond this many lines the over-rounds figure is unreadable; NET and the largest changes are kept.
MOST_LINES_OVER_ROUNDS = 8


def is_ab(result: RunResult) -> bool:
    return any(metric.comparison is not None for metric in result.data.values())


def ab_report(result: RunResult) -> Report:
    compared = ranked_metrics(result)
    sections = [Section("Run", facts=origin_facts(result))]
    forest = forest_plot(compared)
    unjudged = not_judged_metrics(result)
    if compared or not unjudged:
        sections.append(
            Section(
                "Changes",
                paragraphs=(_changes_sentence(compared), *unmeasured_notes(compared)),
                tables=(_changes_table(compared),),
                figures=(forest,) if forest.rows else (),
            )
        )
    if unjudged:
        sections.append(_not_judged_section(unjudged))
    over_rounds = log_ratios_over_rounds(result, compared)
    if over_rounds.series:
        sections.append(
            Section(
                "Rounds",
                paragraphs=(
                    "Per round ln(treatment / control); 0 is no change. Re-run and disturbed rounds are marked.",
                ),
                figures=(over_rounds,),
            )
        )
    distributions = arm_distributions(result, [*compared, *unjudged])
    if distributions:
        sections.append(Section("Distributions per arm", figures=tuple(distributions)))
    sections.append(Section("Stopping decision", facts=stopping_facts(result)))
    title = f"A/B {result.meta.get('model', '')} {result.meta.get('identifier', '')}".strip()
    return Report(title=title, sections=tuple(sections))


def ranked_metrics(result: RunResult) -> list[MetricResult]:
    """Compared metrics, regressions first (largest change first), then by VERDICT_ORDER; NET leads its group."""
    compared = [metric for metric in result.data.values() if metric.comparison is not None]
    return sorted(compared, key=_rank)


def _rank(metric: MetricResult) -> tuple[int, int, float, str]:
    comparison = metric.comparison
    assert comparison is not None
    size = abs(comparison.estimate_pct) if comparison.estimate_pct is not None else -1.0
    return (VERDICT_ORDER.index(comparison.verdict), metric.type != NET, -size, metric.key)


def forest_plot(compared: list[MetricResult]) -> Forest:
    rows = []
    for metric in compared:
        comparison = metric.comparison
        assert comparison is not None
        if comparison.estimate_pct is None:
            continue
        low = comparison.ci_low_pct if comparison.ci_low_pct is not None else comparison.estimate_pct
        high = comparison.ci_high_pct if comparison.ci_high_pct is not None else comparison.estimate_pct
        rows.append(ForestRow(metric.key, comparison.estimate_pct, low, high, comparison.verdict))
    return Forest("forest", "Change of every metric, treatment against control (%, 95% CI)", tuple(rows))


def log_ratios_over_rounds(result: RunResult, compared: list[MetricResult]) -> Lines:
    series = []
    for metric in _over_rounds_metrics(compared):
        ratios = _log_ratios(metric)
        if ratios:
            series.append(Series(metric.key, tuple(float(number) for number, _ in ratios), tuple(r for _, r in ratios)))
    return Lines(
        "rounds",
        "Per-round log-ratio ln(treatment / control)",
        "round",
        "log-ratio",
        tuple(series),
        markers=round_markers(result.meta),
    )


def _over_rounds_metrics(compared: list[MetricResult]) -> list[MetricResult]:
    wanted = [metric for metric in compared if metric.type == NET]
    changed = [m for m in compared if m.type != NET and m.comparison and m.comparison.verdict is not Verdict.NO_CHANGE]
    return (wanted + changed)[:MOST_LINES_OVER_ROUNDS]


def _log_ratios(metric: MetricResult) -> list[tuple[int, float]]:
    """(round number from 1, as the harness's progress lines count them; log-ratio)."""
    pairs = zip(metric.round_values or [], metric.control_round_values or [], strict=False)
    return [(index + 1, math.log(t / c)) for index, (t, c) in enumerate(pairs) if t > 0 and c > 0]


def round_markers(meta: dict[str, Any]) -> tuple[Marker, ...]:
    """Where rounds were re-run and kept rounds judged disturbed, numbered from 1 (meta counts from 0).

    A round re-run several times is one marker that says how often, so labels do not pile up.
    """
    reasons: dict[tuple[int, str], int] = {}
    for rerun in meta.get("rerun_rounds") or []:
        if isinstance(rerun, dict) and isinstance(rerun.get("round"), int):
            key = (rerun["round"] + 1, f"re-run ({rerun.get('reason', 'disturbed')})")
            reasons[key] = reasons.get(key, 0) + 1
    for facts in meta.get("rounds") or []:
        if isinstance(facts, dict) and facts.get("disturbed") and isinstance(facts.get("round"), int):
            reasons[(facts["round"] + 1, "disturbed")] = 1
    return tuple(
        Marker(float(number), label if count == 1 else f"{label} x{count}")
        for (number, label), count in sorted(reasons.items())
    )


def arm_distributions(result: RunResult, compared: list[MetricResult]) -> list[Distributions]:
    """NET, every regressed metric and every one not judged: the treatment's samples beside the control's."""
    shown = [m for m in compared if m.type == NET or m.comparison is None or m.comparison.verdict is Verdict.REGRESSION]
    figures = []
    for metric in shown:
        if not metric.values or not metric.control_values:
            continue
        figures.append(
            Distributions(
                f"arms-{metric.key}",
                f"{metric.key} per arm",
                metric.unit,
                ((TREATMENT, tuple(metric.values)), (CONTROL, tuple(metric.control_values))),
            )
        )
    return figures


def stopping_facts(result: RunResult) -> tuple[tuple[str, str], ...]:
    meta = result.meta
    rounds = meta.get("rounds") if isinstance(meta.get("rounds"), list) else []
    looks = [look for look in meta.get("looks") or [] if isinstance(look, int)]
    reruns = meta.get("rerun_rounds") if isinstance(meta.get("rerun_rounds"), list) else []
    facts = [
        ("Rounds", str(len(rounds))),
        ("Looks", ", ".join(map(str, looks)) or number_format.MISSING),
        ("Re-run rounds", str(len(reruns))),
        ("Round statistic", str(meta.get("round_statistic", number_format.MISSING))),
        ("Why it stopped", why_stopped(result, len(rounds), looks)),
    ]
    return tuple(facts)


def why_stopped(result: RunResult, rounds: int, looks: list[int]) -> str:
    if not result.ok:
        return f"the run failed: {result.failure}"
    if not looks:
        return "no look schedule was recorded"
    open_metrics = [
        m.key for m in result.data.values() if m.comparison and m.comparison.verdict is Verdict.INCONCLUSIVE
    ]
    look = looks.index(rounds) + 1 if rounds in looks else None
    at = f"at look {look} of {len(looks)} ({rounds} rounds)" if look else f"after {rounds} rounds"
    if not any(m.comparison for m in result.data.values()):
        return f"no metric is judged (the test's metric gives no verdict), so the first look ended it {at}"
    if rounds >= looks[-1]:
        still = f"; {len(open_metrics)} metric(s) still inconclusive" if open_metrics else ""
        return f"reached max_rounds {at}{still}"
    open_operators = [key for key in open_metrics if result.data[key].type not in (NET, PROCESS)]
    if result.meta.get("stop_when") == NET_DECIDED and open_operators:
        return (
            f"NET had its verdict {at}, when an operator could already show a regression (stop_when net); "
            f"{len(open_operators)} operator(s) stayed inconclusive"
        )
    return f"every metric had a verdict {at}"


def not_judged_metrics(result: RunResult) -> list[MetricResult]:
    """Metrics both arms measured that carry no verdict (a FAI-PEP `generic` test's), NET first."""
    unjudged = [m for m in result.data.values() if m.comparison is None and m.control_values]
    return sorted(unjudged, key=lambda m: (m.type != NET, m.key))


def _not_judged_section(unjudged: list[MetricResult]) -> Section:
    rows = []
    for metric in unjudged:
        control = (metric.control_summary or {}).get("p50")
        difference = (metric.diff_summary or {}).get("p50")
        change = 100.0 * difference / control if difference is not None and control else None
        rows.append(
            (
                metric.key,
                NOT_JUDGED,
                number_format.measurement(control),
                number_format.measurement(metric.summary.get("p50")),
                number_format.measurement(difference),
                number_format.percent_change(change),
                metric.unit,
            )
        )
    header = ("Metric", "Verdict", "Control p50", "p50", "Difference", "Change", "Unit")
    sentence = (
        f"{len(unjudged)} metrics measured in both arms and {NOT_JUDGED}: the test's metric gives no verdict. "
        "Difference is treatment p50 minus control p50; change is that difference over control p50."
    )
    return Section("Both arms, not judged", paragraphs=(sentence,), tables=(Table(header, tuple(rows)),))


def _changes_sentence(compared: list[MetricResult]) -> str:
    counts = {verdict: 0 for verdict in VERDICT_ORDER}
    for metric in compared:
        assert metric.comparison is not None
        counts[metric.comparison.verdict] += 1
    return ", ".join(f"{count} {verdict.value}" for verdict, count in counts.items()) + f" of {len(compared)} metrics."


def _changes_table(compared: list[MetricResult]) -> Table:
    rows = []
    for metric in compared:
        comparison = metric.comparison
        assert comparison is not None
        rows.append(
            (
                metric.key,
                comparison.verdict.value,
                number_format.percent_change(comparison.estimate_pct),
                number_format.percent_interval(comparison.ci_low_pct, comparison.ci_high_pct),
                number_format.probability(comparison.p_value),
                number_format.probability(comparison.q_value),
                str(comparison.rounds) if comparison.rounds is not None else number_format.MISSING,
                number_format.measurement((metric.control_summary or {}).get("p50")),
                number_format.measurement(metric.summary.get("p50")),
                metric.unit,
            )
        )
    header = ("Metric", "Verdict", "Change", "95% interval", "p", "q", "Rounds", "Control p50", "p50", "Unit")
    return Table(header, tuple(rows))
