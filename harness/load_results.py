"""What a load scenario adds to a result: LoadGen's verdict per process, tail percentiles, and
the per-round figure each scenario is judged on.

A bench program in load mode prints one `AIPEP_SCENARIO {json}` line with LoadGen's verdict
(frameworks/load_program/loadgen_runner.py). The harness keeps each process's line, so a
round's arms are judged on LoadGen's own percentiles, and an arm that LoadGen called
INVALID is named in the result rather than averaged in unseen.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from statistics import median
from typing import Any

import numpy as np

from aipep_core.load_scenario import LATENCY_ROUND_STATISTIC
from aipep_core.result_record import MetricComparison, MetricResult, RunResult
from aipep_core.spec import TestSpec
from aipep_core.verdict import Verdict

SCENARIO_PREFIX = "AIPEP_SCENARIO"
NET_LATENCY = "NET latency"
NET_THROUGHPUT = "NET throughput"
NET_COLD_START = "NET cold_start"
# The tails a scenario's latency summary adds to FAI-PEP's keys.
TAIL_PERCENTILES = {"p95": 95.0, "p99": 99.0, "p999": 99.9}

_LINE = re.compile(rf"^{SCENARIO_PREFIX} (\{{.*\}})\s*$", re.MULTILINE)


def scenario_record(stdout: str) -> dict[str, Any] | None:
    """The process's LoadGen verdict, or None when it printed none (not in load mode)."""
    found = _LINE.findall(stdout)
    if not found:
        return None
    try:
        record = json.loads(found[-1])
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def round_value(test: TestSpec, key: str, values: tuple[float, ...] | list[float], record: dict | None) -> float | None:
    """A round's figure for `key` where the scenario decides it, else None (the test's round statistic).

    Latency: LoadGen's own p90 (single and multi stream) or p99 (server) for the process.
    Throughput and cold start: the process's one value.
    """
    if key in (NET_THROUGHPUT, NET_COLD_START) and values:
        return float(values[-1])
    if test.scenario is None or key != NET_LATENCY:
        return None
    statistic = LATENCY_ROUND_STATISTIC.get(test.scenario.name)
    if statistic is None:
        return float(values[-1]) if values else None
    loadgen = (record or {}).get("loadgen_latency_us", {})
    if statistic in loadgen:
        return float(loadgen[statistic])
    return float(np.percentile(np.asarray(values, dtype=float), float(statistic[1:])))


def add_tail_percentiles(result: RunResult) -> None:
    """p95, p99 and p99.9 in a latency summary under load, for treatment and control alike."""
    metric = result.data.get(NET_LATENCY)
    if metric is None:
        return
    metric.summary = {**metric.summary, **_tails(metric.values)}
    if metric.control_values:
        metric.control_summary = {**(metric.control_summary or {}), **_tails(metric.control_values)}


def _tails(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=float)
    return {name: float(np.percentile(array, level)) for name, level in TAIL_PERCENTILES.items()}


def arm_summary(records: list[dict]) -> dict[str, Any]:
    """One arm over its processes: VALID only if every one was; every distinct reason, once."""
    reasons: list[str] = []
    for record in records:
        for reason in record.get("invalid_reasons", []):
            if reason not in reasons:
                reasons.append(reason)
    achieved = [record["achieved_qps"] for record in records if isinstance(record.get("achieved_qps"), (int, float))]
    return {
        "achieved_qps": median(achieved) if achieved else None,
        "valid": all(record.get("valid") is True for record in records),
        "invalid_reasons": reasons,
        "early_stopping": records[-1].get("early_stopping", {}) if records else {},
    }


def scenario_meta(test: TestSpec, treatment: list[dict], control: list[dict] | None = None) -> dict[str, Any] | None:
    """`meta.scenario`: the treatment's figures on top; in an A/B, the control's and each round's."""
    if test.scenario is None or not treatment:
        return None
    meta = {"name": test.scenario.name, "target_qps": test.scenario.target_qps, **arm_summary(treatment)}
    if control is not None:
        meta["control"] = arm_summary(control)
        meta["rounds"] = [
            {arm: _round_facts(record) for arm, record in (("treatment", t), ("control", c))}
            for t, c in zip(treatment, control, strict=False)
        ]
    else:
        meta["rounds"] = [{"treatment": _round_facts(record)} for record in treatment]
    return meta


def _round_facts(record: dict) -> dict[str, Any]:
    return {
        "achieved_qps": record.get("achieved_qps"),
        "valid": record.get("valid") is True,
        "invalid_reasons": list(record.get("invalid_reasons", [])),
        "loadgen_latency_us": record.get("loadgen_latency_us", {}),
    }


def qualify_verdicts(result: RunResult) -> None:
    """An arm INVALID in some round: LoadGen could not certify that load for it, so the run cannot
    say "no change" under it; such a verdict becomes inconclusive. A regression or improvement
    stands (an arm that could not hold the load is itself evidence), with a note either way."""
    scenario = result.meta.get("scenario")
    if not scenario or "control" not in scenario:
        return
    invalid = {arm: sum(1 for r in scenario["rounds"] if not r[arm]["valid"]) for arm in ("treatment", "control")}
    if not any(invalid.values()):
        return
    rounds = len(scenario["rounds"])
    note = "; ".join(f"{arm} INVALID in {count} of {rounds} rounds" for arm, count in invalid.items() if count)
    for key in (NET_LATENCY, NET_THROUGHPUT):
        metric: MetricResult | None = result.data.get(key)
        if metric is None or metric.comparison is None:
            continue
        comparison: MetricComparison = metric.comparison
        verdict = Verdict.INCONCLUSIVE if comparison.verdict is Verdict.NO_CHANGE else comparison.verdict
        metric.comparison = replace(comparison, verdict=verdict, note=_joined(comparison.note, note))


def _joined(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second
