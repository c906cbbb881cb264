"""The interleaved A/B run: rounds of fresh control and treatment processes.

Each round runs both arms one right after the other, in alternating order
(ABBA...), so slow drift hits both alike. Disturbed rounds are re-run within a
budget. The data are analysed only at the rounds of the look schedule, with
the alpha each look may spend, and the run stops once every metric has a
verdict or max_rounds is reached.

A test's `round_design` may instead run both arms of a round at once on disjoint CPU
sets that swap every round (harness/duet_round.py), or start both at once and let them take
turns one timed iteration each (harness/alternating_round.py); the meta says which design ran.

A model's `cooldown` is not spent between the arms of a round: the alternating order
already gives each arm the other's heat equally often, so the pause would only make a
run longer. The job runner spends it between tests, FAI-PEP's meaning.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from aipep_core.job import Arm, RunStopped
from aipep_core.names import CONTROL, NET, TREATMENT
from aipep_core.result_record import FAILURE, MetricComparison, MetricResult, RunResult
from aipep_core.spec import GENERIC_METRIC, TestSpec
from aipep_core.verdict import Verdict
from frameworks.samples import MetricSamples
from harness.alternating_round import ALTERNATING, run_alternating_round, why_not_alternating
from harness.arm import ArmProcess, ArmRunFailure, ArmRunner, process_logs
from harness.disturbance import cpu_share, is_disturbed
from harness.duet_round import DUET, SEQUENTIAL, DuetPlan, plan_duet, run_duet_round
from harness.load_results import add_tail_percentiles, qualify_verdicts, round_value, scenario_meta
from harness.output_problems import OutputProblems
from harness.round_work import round_work
from harness.sequential_decision import compare_at_look, may_stop, run_looks
from harness.stats.comparison import Comparison, unmeasured
from harness.stats.summary import diff_summary, round_statistic, summarize
from harness.stats.unmeasurable import missing_rounds_note


@dataclass
class Round:
    index: int
    order: tuple[str, str]
    arms: dict[str, ArmProcess]
    disturbed: bool = False
    cpus: dict[str, list[int]] | None = None
    at_once: bool = False

    @property
    def device_seconds(self) -> float:
        """The device's time for the round: both arms' walls, or the longer one when they ran at once."""
        walls = [process.wall_seconds for process in self.arms.values()]
        return max(walls) if self.at_once else sum(walls)

    def describe(self) -> dict[str, Any]:
        facts: dict[str, Any] = {
            "round": self.index,
            "order": list(self.order),
            "disturbed": self.disturbed,
            "device_seconds": self.device_seconds,
        }
        for name, process in self.arms.items():
            facts[name] = {
                "wall_seconds": process.wall_seconds,
                "cpu_seconds": process.cpu_seconds,
                "load_before": process.processes[0].load_before,
            }
            if self.cpus is not None:
                facts[name]["cpus"] = self.cpus[name]
        return facts


@dataclass
class AbState:
    """Everything kept across rounds; the result is built from it at the end."""

    rounds: list[Round] = field(default_factory=list)
    reruns: list[dict[str, Any]] = field(default_factory=list)
    shares: dict[str, list[float]] = field(default_factory=lambda: {TREATMENT: [], CONTROL: []})
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    problems: OutputProblems = field(default_factory=OutputProblems)


def arm_order(round_index: int, reverse: bool = False) -> tuple[str, str]:
    """ABBA...: treatment first in even rounds; `reverse` starts with control."""
    treatment_first = (round_index % 2 == 0) != reverse
    return (TREATMENT, CONTROL) if treatment_first else (CONTROL, TREATMENT)


def rerun_budget(max_rounds: int) -> int:
    """How many disturbed rounds may be re-run: enough for bursts, bounded for a loaded machine."""
    return max(3, max_rounds // 4)


def run_ab(
    runner: ArmRunner,
    treatment: Arm,
    control: Arm,
    meta: dict[str, Any],
    *,
    reverse: bool = False,
    progress: TextIO | None = sys.stderr,
    stop: threading.Event | None = None,
) -> RunResult:
    """Rounds until the verdicts the test's stop_when waits for are in, or max_rounds; a failed round
    ends the run as a failed result with its logs, a stop raises RunStopped (nothing to record)."""
    test = runner.test
    method = test.round_statistic
    arms = {TREATMENT: treatment, CONTROL: control}
    looks: list[int] = []
    started = time.time()
    state = AbState()
    result = RunResult(meta=dict(meta))
    budget = rerun_budget(test.max_rounds)
    design = _round_design(runner, result.meta, progress)
    while len(state.rounds) < test.max_rounds:
        index = len(state.rounds)
        if stop is not None and stop.is_set():
            raise RunStopped(f"stopped on request after {index} rounds")
        try:
            round_ = _run_round(runner, arms, index, reverse, design)
        except ArmRunFailure as failure:
            result.status = FAILURE
            result.failure = f"round {index}: {failure}"
            result.logs.update(process_logs(f"round{index}_failed", failure.processes))
            break
        round_.disturbed = _judge(round_, state)
        if round_.disturbed and len(state.reruns) < budget:
            set_aside = {"round": index, "reason": "cpu stolen", **round_.describe(), "samples": _samples(round_)}
            state.reruns.append(set_aside)
            _say(progress, f"round {index + 1}: disturbed (CPU share dropped), re-running")
            continue
        _remember_shares(round_, state)
        for name, process in round_.arms.items():
            state.problems.add(f"round{index}_{name}", process.problems)
        state.rounds.append(round_)
        if len(state.rounds) == 1:
            looks = run_looks(test, _common_keys(state))
        if len(state.rounds) in looks:
            look = looks.index(len(state.rounds))
            if test.metric != GENERIC_METRIC:
                state.comparisons = compare_at_look(
                    _per_round(state, method, test), test, look, len(looks), _units(state)
                )
            _say(progress, _progress_line(len(state.rounds), test.max_rounds, state.comparisons))
            if may_stop(state.comparisons, test, look, len(looks), len(state.rounds)):
                break
        else:
            _say(progress, f"round {len(state.rounds)}/{test.max_rounds} done")
    _fill_result(result, state, method, test)
    result.meta.update(
        round_order=["".join("T" if arm == TREATMENT else "C" for arm in r.order) for r in state.rounds],
        rounds=[r.describe() for r in state.rounds],
        rerun_rounds=state.reruns,
        looks=looks,
        stop_when=test.stop_when,
        round_statistic=method,
        round_work=round_work(test, result.meta["round_design"]),
        start_time=started,
        end_time=time.time(),
        device_seconds=_device_seconds(state),
    )
    state.problems.record(result.meta)
    _record_scenario(result, state, test)
    if state.rounds:
        result.meta["command"] = list(state.rounds[0].arms[TREATMENT].command)
    for round_ in state.rounds:
        for name, process in round_.arms.items():
            result.logs.update(process_logs(f"round{round_.index}_{name}", process.processes))
    return result


def _round_design(runner: ArmRunner, meta: dict[str, Any], progress: TextIO | None) -> str | DuetPlan:
    """The design the rounds run: the test's when the device and framework allow it (a duet's CPU
    sets), else sequential; `meta.round_design` names the design that runs, `meta.round_design_note`
    why it is not the one asked for."""
    meta["round_design"] = SEQUENTIAL
    asked = runner.test.round_design
    if asked != SEQUENTIAL and runner.platform.why_not_at_once is not None:
        plan, refusal = None, f"round_design {asked}: {runner.platform.why_not_at_once}; running sequential rounds"
    elif asked == DUET:
        plan, refusal = plan_duet(runner.test, runner.platform.cpu_ids())
    elif asked == ALTERNATING:
        plan, refusal = ALTERNATING, why_not_alternating(runner)
    else:
        return SEQUENTIAL
    if refusal is not None:
        meta["round_design_note"] = refusal
        _say(progress, refusal)
        return SEQUENTIAL
    meta["round_design"] = asked
    return plan


def _run_round(runner: ArmRunner, arms: dict[str, Arm], index: int, reverse: bool, design: str | DuetPlan) -> Round:
    order = arm_order(index, reverse)
    ordered = {name: arms[name] for name in order}
    if isinstance(design, DuetPlan):
        done, cpus = run_duet_round(runner, ordered, index, design)
        return Round(index=index, order=order, arms=done, cpus=cpus, at_once=True)
    if design == ALTERNATING:
        return Round(index=index, order=order, arms=run_alternating_round(runner, ordered, index), at_once=True)
    done = {name: runner.run_once(arm, f"r{index}_{name}", index) for name, arm in ordered.items()}
    return Round(index=index, order=order, arms=done)


def _samples(round_: Round) -> dict[str, dict[str, list[float]]]:
    """A set-aside round's measurements, per arm and metric: what it read is kept with the reason it was
    not used, so a reader (or the detection benchmark, replaying a run that kept it) can check the choice."""
    return {name: {key: list(s.values) for key, s in process.samples.items()} for name, process in round_.arms.items()}


def _judge(round_: Round, state: AbState) -> bool:
    return any(
        is_disturbed(cpu_share(process.cpu_seconds, process.wall_seconds), state.shares[name])
        for name, process in round_.arms.items()
    )


def _remember_shares(round_: Round, state: AbState) -> None:
    for name, process in round_.arms.items():
        share = cpu_share(process.cpu_seconds, process.wall_seconds)
        if share is not None:
            state.shares[name].append(share)


def _common_keys(state: AbState) -> list[str]:
    keys = None
    for round_ in state.rounds:
        present = set(round_.arms[TREATMENT].samples) & set(round_.arms[CONTROL].samples)
        keys = present if keys is None else keys & present
    return sorted(keys or ())


def _round_values(state: AbState, arm: str, key: str, method: str, test: TestSpec) -> list[float]:
    return [_round_value(r.arms[arm], key, method, test) for r in state.rounds]


def _round_value(process: ArmProcess, key: str, method: str, test: TestSpec) -> float:
    """The scenario's figure where it names one (load_results.round_value), else the test's statistic."""
    values = process.samples[key].values
    decided = round_value(test, key, values, process.scenario)
    return round_statistic(values, method) if decided is None else decided


def _per_round(state: AbState, method: str, test: TestSpec) -> dict[str, tuple[list[float], list[float]]]:
    return {
        key: (_round_values(state, TREATMENT, key, method, test), _round_values(state, CONTROL, key, method, test))
        for key in _common_keys(state)
    }


def _units(state: AbState) -> dict[str, str]:
    """Each compared metric's unit, which decides whether the absolute floor (in microseconds) applies."""
    first = state.rounds[0].arms[TREATMENT].samples
    return {key: first[key].unit for key in _common_keys(state)}


def _record_scenario(result: RunResult, state: AbState, test: TestSpec) -> None:
    """meta.scenario from every round's LoadGen verdicts; INVALID arms qualify the verdicts."""
    treatment = [r.arms[TREATMENT].scenario for r in state.rounds if r.arms[TREATMENT].scenario is not None]
    control = [r.arms[CONTROL].scenario for r in state.rounds if r.arms[CONTROL].scenario is not None]
    scenario = scenario_meta(test, treatment, control)
    if scenario is None:
        return
    result.meta["scenario"] = scenario
    add_tail_percentiles(result)
    qualify_verdicts(result)


def _fill_result(result: RunResult, state: AbState, method: str, test: TestSpec) -> None:
    common = set(_common_keys(state))
    all_keys = {key for r in state.rounds for arm in r.arms.values() for key in arm.samples}
    for key in sorted(all_keys):
        treatment = _all_values(state, TREATMENT, key)
        if not treatment:
            continue
        control = _all_values(state, CONTROL, key)
        first = treatment[0]
        values = [v for samples in treatment for v in samples.values]
        metric = MetricResult(
            type=first.type,
            metric=first.metric,
            unit=first.unit,
            values=values,
            summary=summarize(values),
            num_runs=len(values),
            from_tool_summary=first.from_tool_summary,
            op_type=first.op_type or None,
        )
        if control:
            control_values = [v for samples in control for v in samples.values]
            metric.control_values = control_values
            metric.control_summary = summarize(control_values)
            metric.diff_summary = diff_summary(metric.summary, metric.control_summary)
        if key in common:
            metric.round_values = _round_values(state, TREATMENT, key, method, test)
            metric.control_round_values = _round_values(state, CONTROL, key, method, test)
            if key in state.comparisons:
                metric.comparison = MetricComparison.from_json(state.comparisons[key].as_dict())
        elif control and state.comparisons:
            metric.comparison = MetricComparison.from_json(_missing_rounds(state, key).as_dict())
        result.data[key] = metric


def _missing_rounds(state: AbState, key: str) -> Comparison:
    """The final answer for a metric both arms printed, but not in every round: not compared, and why.
    More rounds cannot pair a round that lacks it, so this is what the run ends with."""
    paired = sum(key in r.arms[TREATMENT].samples and key in r.arms[CONTROL].samples for r in state.rounds)
    note = missing_rounds_note(
        len(_all_values(state, TREATMENT, key)), len(_all_values(state, CONTROL, key)), len(state.rounds)
    )
    return unmeasured(paired, note)


def _all_values(state: AbState, arm: str, key: str) -> list[MetricSamples]:
    return [r.arms[arm].samples[key] for r in state.rounds if key in r.arms[arm].samples]


def _device_seconds(state: AbState) -> float:
    return sum(r.device_seconds for r in state.rounds) + sum(facts["device_seconds"] for facts in state.reruns)


def _progress_line(rounds: int, max_rounds: int, comparisons: dict[str, Comparison]) -> str:
    net = [f"{key} {_change(c)} {c.verdict.value}" for key, c in comparisons.items() if key.startswith(NET)]
    flagged = sum(1 for c in comparisons.values() if c.verdict is Verdict.REGRESSION)
    return f"round {rounds}/{max_rounds}: {'; '.join(net) or 'no NET'}; {flagged} regression(s) so far"


def _change(comparison: Comparison) -> str:
    return f"{comparison.estimate_pct:+.1f}%" if comparison.measured else "unmeasurable"


def _say(stream: TextIO | None, line: str) -> None:
    if stream is not None:
        print(f"harness: {line}", file=stream, flush=True)
