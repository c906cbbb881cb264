"""The lines a person watching the service reads about results: one per A/B, one per confirmed regression."""

from __future__ import annotations

from aipep_core.result_record import RunResult
from aipep_core.verdict import Verdict
from repo_driver.progress import name, say
from repo_driver.state.driver_state import DriverState


def announce_confirmed(state: DriverState, regression_id: int) -> None:
    regression = state.regressions.get(regression_id)
    culprit = state.queue.commit(regression.culprit_hash) if regression.culprit_hash else None
    where = name(culprit) if culprit else f"one of {regression.good_hash[:10]}..{regression.bad_hash[:10]}"
    sizes = ", ".join(f"{key.split('|', 1)[1]} {value:+.1f}%" for key, value in regression.estimates.items())
    say(f"CONFIRMED REGRESSION on {regression.platform}: culprit {where}: {sizes}")


def summary(results: list[RunResult]) -> str:
    parts = []
    for result in results:
        if not result.ok:
            parts.append(f"{result.meta.get('identifier')}: FAILED ({result.failure})")
            continue
        for key, metric in result.data.items():
            comparison = metric.comparison
            if comparison and (key.startswith("NET") or comparison.verdict is Verdict.REGRESSION):
                estimate = comparison.estimate_pct
                change = "unmeasurable" if estimate is None else f"{estimate:+.1f}%"
                parts.append(f"{key} {change} {comparison.verdict.value}")
        if not any(metric.comparison for metric in result.data.values()):
            net = result.data.get("NET latency")
            parts.append(f"NET p50 {net.summary['p50']:.1f} {net.unit}" if net else "no NET")
    return "; ".join(parts) or "no results"
