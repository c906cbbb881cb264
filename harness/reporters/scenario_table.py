"""The load table under a scenario's result: per arm, the rate it held, its tail and LoadGen's word on it.

Teams that serve models read load results as aibench prints them: one row per system, its
queries a second and latency percentiles side by side, and whether the run counts.
"""

from __future__ import annotations

from rich.table import Table

from aipep_core.number_format import measurement
from aipep_core.result_record import RunResult

_PERCENTILES = ("p50", "p90", "p99", "p999")


def scenario_table(result: RunResult) -> Table | None:
    scenario = result.meta.get("scenario")
    if not scenario:
        return None
    latency = result.data.get("NET latency")
    table = Table(title=f"load: {scenario['name']} at {_rate(scenario.get('target_qps'))} target", title_justify="left")
    for column in ("arm", "QPS", "p50 us", "p90 us", "p99 us", "p99.9 us", "validity"):
        table.add_column(column, justify="left" if column in ("arm", "validity") else "right")
    arms = [("treatment" if "control" in scenario else "run", scenario, latency.summary if latency else None)]
    if "control" in scenario:
        arms.append(("control", scenario["control"], latency.control_summary if latency else None))
    rounds = scenario.get("rounds", [])
    for name, facts, summary in arms:
        figures = [_number((summary or {}).get(key)) for key in _PERCENTILES]
        invalid = sum(1 for facts_of_round in rounds if not facts_of_round.get(_arm_key(name), {}).get("valid", True))
        table.add_row(name, _rate(facts.get("achieved_qps")), *figures, _validity(facts, invalid, len(rounds)))
    return table


def _arm_key(name: str) -> str:
    return "treatment" if name == "run" else name


def _validity(facts: dict, invalid: int, rounds: int) -> str:
    """VALID only when LoadGen said so of every process of the arm; else in how many, and why."""
    if facts.get("valid"):
        return "VALID"
    return f"INVALID in {invalid} of {rounds}: " + "; ".join(facts.get("invalid_reasons", []))[:160]


def _rate(value: float | None) -> str:
    return "-" if value is None else measurement(float(value))


def _number(value: float | None) -> str:
    return "-" if value is None else measurement(float(value))
