"""Bisection as a pure function of the recorded steps, and the slow-creep history on a real store."""

from __future__ import annotations

import math

from aipep_core.result_record import MetricComparison, MetricResult, RunResult
from aipep_core.verdict import Verdict
from harness.store.result_store import ResultStore
from repo_driver import bisect, verdicts
from repo_driver.creep import detect_creep, levels
from repo_driver.git_follower import CommitInfo
from repo_driver.state.driver_state import DriverState
from repo_driver.state.queue import MAIN
from repo_driver.state.runs import BASELINE, BENCHMARK

LINE = [f"c{i:02d}" for i in range(17)]


def _walk(culprit: int, unbuildable: frozenset[int] = frozenset()) -> tuple[bisect.Interval, int]:
    """Bisect LINE from c00 (good) to c16 (bad) against a perfect oracle; returns the interval and A/B runs used."""
    steps: list[tuple[str, str]] = []
    runs = 0
    while (commit := bisect.interval(LINE, LINE[0], LINE[16], steps).next_commit()) is not None:
        index = LINE.index(commit)
        if index in unbuildable:
            steps.append((commit, bisect.SKIP))
            continue
        runs += 1
        steps.append((commit, bisect.BAD if index >= culprit else bisect.GOOD))
    return bisect.interval(LINE, LINE[0], LINE[16], steps), runs


def test_every_culprit_of_a_range_of_16_is_found_in_4_runs():
    for culprit in range(1, 17):
        found, runs = _walk(culprit)
        assert found.culprit == LINE[culprit]
        assert runs == 4


def test_a_commit_that_does_not_build_is_skipped_for_its_neighbour():
    found, runs = _walk(culprit=10, unbuildable=frozenset({8}))
    assert found.culprit == LINE[10]
    assert runs == 4


def test_when_an_unbuildable_commit_hides_the_culprit_both_are_named_suspects():
    found, _ = _walk(culprit=9, unbuildable=frozenset({8}))
    assert found.next_commit() is None
    assert found.culprit is None
    assert found.suspects == [LINE[8], LINE[9]]


def test_a_restart_replays_the_same_steps_to_the_same_interval():
    steps = [(LINE[8], bisect.BAD), (LINE[4], bisect.GOOD)]
    first = bisect.interval(LINE, LINE[0], LINE[16], steps)
    again = bisect.interval(LINE, LINE[0], LINE[16], list(steps))
    assert (first.good, first.bad, first.next_commit()) == (again.good, again.bad, again.next_commit()) == (4, 8, "c06")


def _result(commit: str, conv_pct: float | None) -> RunResult:
    """A stored run with only what the creep history reads; no estimate for a baseline run."""
    comparison = None if conv_pct is None else MetricComparison(verdict=Verdict.NO_CHANGE, estimate_pct=conv_pct)
    metric = MetricResult("Conv", "latency", "us", [1.0], {"p50": 1.0}, 1, comparison=comparison)
    return RunResult(meta={"identifier": "t", "commit": commit}, data={"Conv latency": metric})


def test_small_steps_that_add_up_raise_one_creep_alert(tmp_path):
    """Twelve commits at +0%, then twelve that each add 1.5%: never significant alone, +18% in all."""
    steps = [0.0] * 12 + [1.5] * 12 + [0.0] * 12
    with ResultStore(tmp_path / "aipep.db") as store:
        state = DriverState(store, "repo", "microkernel")
        hashes = [f"{i:040x}" for i in range(len(steps) + 1)]
        for position, commit_hash in enumerate(hashes):
            state.queue.add(CommitInfo(commit_hash, 1_000 + position, f"commit {position}"), position, MAIN)
        state.runs.save(
            [_result(hashes[0], None)], platform="host", commit_hash=hashes[0], control_hash=None, role=BASELINE
        )
        for previous, commit_hash, step in zip(hashes, hashes[1:], steps, strict=False):
            state.runs.save(
                [_result(commit_hash, step)],
                platform="host",
                commit_hash=commit_hash,
                control_hash=previous,
                role=BENCHMARK,
            )

        history = levels(state, "host")[("t", "Conv latency")]
        assert [h for h, _ in history] == hashes
        assert math.isclose(history[-1][1], 12 * math.log1p(0.015))

        first = detect_creep(state, "host")
        again = detect_creep(state, "host")

    assert len(first) >= 1 and all("Conv latency (t) up" in alert for alert in first)
    assert again == []


def _step(verdict: str, conv_pct: float) -> list[RunResult]:
    result = _result("c", conv_pct)
    result.data["Conv latency"].comparison.verdict = Verdict(verdict)
    return [result]


def test_a_step_is_decided_by_its_verdicts_when_they_settle_it():
    names = [("t", "Conv latency")]
    assert verdicts.has_regression(_step("regression", 9.0), names) is True
    assert verdicts.has_regression(_step("no_change", 0.5), names) is False
    assert verdicts.has_regression(_step("inconclusive", 4.0), names) is None
    # Read back as the enum from the record's string; a change below the floor is not the regression.
    assert verdicts.has_regression(_step("below_floor", 60.0), names) is False


def test_an_open_step_is_decided_by_which_side_of_half_the_size_its_mean_estimate_lies():
    names, sizes = [("t", "Conv latency")], {("t", "Conv latency"): 10.0}
    runs = [_step("inconclusive", 3.0), _step("inconclusive", 9.0)]
    assert verdicts.nearer_regression(runs, names, sizes) is True
    runs = [_step("inconclusive", 3.0), _step("inconclusive", 5.0)]
    assert verdicts.nearer_regression(runs, names, sizes) is False


def test_a_step_is_judged_on_the_timed_metrics_of_a_regression_that_has_any():
    confirmed = [("t", "Conv latency"), ("t", "PROCESS cpu_util"), ("t", "NET latency")]
    assert verdicts.deciding_names(confirmed) == [("t", "Conv latency"), ("t", "NET latency")]
    memory_only = [("t", "PROCESS peak_rss")]
    assert verdicts.deciding_names(memory_only) == memory_only
