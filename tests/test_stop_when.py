"""stop_when: which verdicts a run waits for before it stops early.

With `net` a run waits for NET's verdict, but not before one operator could be significant in
its Benjamini-Hochberg family; with `every_metric` it waits for every operator's too. The
pure rule is tested on comparisons and replayed rounds; the live runner on a program whose
NET never changes while its one operator swings by +-20% between processes in a fixed
pattern, so the operator stays inconclusive whatever the machine does.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import textwrap
from pathlib import Path

import pytest

from aipep_core.errors import UserError
from aipep_core.job import Arm, Job
from aipep_core.spec import parse_spec
from aipep_core.verdict import Verdict
from frameworks import get_framework
from harness.ab_run import run_ab
from harness.arm import ArmRunner
from harness.cli import main
from harness.cli_args import parse_job
from harness.job_runner import run_job
from harness.sequential_decision import decide_sequentially, may_stop, operators_could_regress, run_looks
from harness.stats.comparison import Comparison, unmeasured
from harness.stats.sequential import min_rounds_for
from platforms import get_platform
from reports.ab_report import why_stopped

NET_KEY = "NET latency"
SPEC_PATH = Path("spec.json")


def comparison(verdict: Verdict, rounds: int = 8) -> Comparison:
    return Comparison(0.0, -1.0, 1.0, 0.5, None, rounds, verdict)


def test_a_test_waits_for_every_metric_unless_its_spec_says_net():
    spec = {"identifier": "t", "metric": "delay"}
    test = parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [spec]}, SPEC_PATH).tests[0]
    assert test.stop_when == "every_metric"


def test_with_stop_when_net_a_decided_net_ends_the_run_once_operators_could_regress():
    spec = {"identifier": "t", "metric": "delay", "min_rounds": 8, "max_rounds": 40, "stop_when": "net"}
    test = parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [spec]}, SPEC_PATH).tests[0]
    operators = {f"Conv_{i} latency": comparison(Verdict.INCONCLUSIVE) for i in range(33)}
    comparisons = {NET_KEY: comparison(Verdict.NO_CHANGE), **operators}
    # Looks 8, 14, 23, 40 spend 0.0125 each; BH holds a lone operator of 66 p-values to 0.0125 / 66,
    # which 2**-n passes from 13 rounds on: the 8-round look cannot end the run, the 14-round look can.
    assert not may_stop(comparisons, test, 0, 4, 8)
    assert may_stop(comparisons, test, 1, 4, 14)
    assert not may_stop({**comparisons, NET_KEY: comparison(Verdict.INCONCLUSIVE)}, test, 1, 4, 14)
    assert may_stop({**comparisons, NET_KEY: comparison(Verdict.INCONCLUSIVE)}, test, 3, 4, 40)


def test_with_stop_when_every_metric_every_operator_holds_the_run():
    spec = {"identifier": "t", "metric": "delay", "min_rounds": 8, "max_rounds": 40, "stop_when": "every_metric"}
    test = parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [spec]}, SPEC_PATH).tests[0]
    comparisons = {NET_KEY: comparison(Verdict.NO_CHANGE), "Conv latency": comparison(Verdict.INCONCLUSIVE)}
    assert not may_stop(comparisons, test, 1, 4, 14)
    assert may_stop({**comparisons, "Conv latency": comparison(Verdict.BELOW_FLOOR)}, test, 1, 4, 14)
    # An operator that cannot be measured (timed at 0) is final and holds nothing.
    assert may_stop({**comparisons, "Conv latency": unmeasured(14, "timed at 0")}, test, 1, 4, 14)


def test_every_verdict_in_ends_a_net_run_even_before_operators_could_regress():
    spec = {"identifier": "t", "metric": "delay", "stop_when": "net"}
    test = parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [spec]}, SPEC_PATH).tests[0]
    decided = {NET_KEY: comparison(Verdict.NO_CHANGE), "Conv latency": comparison(Verdict.NO_CHANGE)}
    assert may_stop(decided, test, 0, 4, 2)


def test_without_a_net_metric_stop_when_net_waits_for_every_metric():
    spec = {"identifier": "t", "metric": "delay", "stop_when": "net"}
    test = parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [spec]}, SPEC_PATH).tests[0]
    only_operators = {"Conv latency": comparison(Verdict.NO_CHANGE), "Relu latency": comparison(Verdict.INCONCLUSIVE)}
    assert not may_stop(only_operators, test, 1, 4, 14)


def test_operators_could_regress_counts_both_directions_of_measured_operators():
    one = {NET_KEY: comparison(Verdict.NO_CHANGE), "Conv latency": comparison(Verdict.INCONCLUSIVE)}
    reachable = min_rounds_for(0.0125 / 2)
    assert not operators_could_regress(one, 0.0125, reachable - 1)
    assert operators_could_regress(one, 0.0125, reachable)
    with_unmeasured = {**one, "Flatten latency": unmeasured(9, "timed at 0")}
    assert operators_could_regress(with_unmeasured, 0.0125, reachable)
    assert operators_could_regress({NET_KEY: comparison(Verdict.NO_CHANGE)}, 0.0125, 1)


@pytest.mark.parametrize(
    ("stop_when", "with_net", "looks"),
    [("net", True, [12, 22, 40]), ("every_metric", True, [8, 14, 23, 40]), ("net", False, [8, 14, 23, 40])],
)
def test_only_a_net_run_with_operators_starts_looking_where_an_operator_could_regress(stop_when, with_net, looks):
    spec = {"identifier": "t", "metric": "delay", "min_rounds": 8, "max_rounds": 40, "stop_when": stop_when}
    test = parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [spec]}, SPEC_PATH).tests[0]
    keys = [f"Conv_{i} latency" for i in range(33)] + ["PROCESS peak_rss", "PROCESS cpu_time"] * 20
    assert run_looks(test, [NET_KEY, *keys] if with_net else keys) == looks


def swinging_rounds(n: int) -> dict[str, tuple[list[float], list[float]]]:
    """NET identical in both arms; the operator 50% slower or a third faster in a fixed pattern."""
    ratios = [1.5, 1 / 1.5, 1 / 1.5, 1.5] * (n // 4 + 1)
    return {
        NET_KEY: ([1000.0] * n, [1000.0] * n),
        "Conv latency": ([500.0 * r for r in ratios[:n]], [500.0] * n),
    }


@pytest.mark.parametrize(("stop_when", "rounds"), [("net", 7), ("every_metric", 20)])
def test_the_replay_stops_where_the_rule_says(stop_when, rounds):
    spec = {"identifier": "t", "metric": "delay", "min_rounds": 6, "max_rounds": 20, "stop_when": stop_when}
    test = parse_spec({"model": {"name": "m", "format": "generic"}, "tests": [spec]}, SPEC_PATH).tests[0]
    comparisons, used = decide_sequentially(swinging_rounds(20), test, {NET_KEY: "us", "Conv latency": "us"})
    # every_metric looks at 6, 11, 20 and waits for the swinging operator to the end. With net the
    # looks are 7, 12, 20: one operator needs 2**-n < (0.05 / 3) / 2, n >= 7, so a look at 6 could
    # not end the run; NET is no_change at the first look that can.
    assert used == rounds
    assert comparisons[NET_KEY].verdict is Verdict.NO_CHANGE
    assert comparisons["Conv latency"].verdict is Verdict.INCONCLUSIVE


# Each process appends one byte to a counter file; its position picks the operator's value, so
# consecutive rounds' treatment/control ratios run 1.5, 1/1.5, 1/1.5, 1.5, ... whoever goes first.
SWINGING_PROGRAM = textwrap.dedent(
    """
    import json, os, sys
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, b"x")
    os.close(fd)
    position = os.path.getsize(sys.argv[1]) - 1
    high = (position // 4) % 2 == position % 2
    conv = 1200.0 if high else 800.0
    for name, value in (("NET", 2000.0), ("Conv", conv)):
        line = {"type": name, "metric": "latency", "unit": "us", "values": [value] * 3}
        print("AIPEP " + json.dumps(line))
    """
)


@pytest.mark.parametrize(("stop_when", "rounds"), [("net", 7), ("every_metric", 20)])
def test_a_live_run_stops_where_the_rule_says_and_says_why(tmp_path, stop_when, rounds):
    script = tmp_path / "swinging.py"
    script.write_text(SWINGING_PROGRAM)
    fields = {"identifier": "t", "metric": "delay", "iter": 3, "min_rounds": 6, "max_rounds": 20}
    command = f"{{program}} {script} {tmp_path / 'positions'}"
    spec = parse_spec(
        {"model": {"name": "swing", "format": "generic"}, "tests": [{**fields, "commands": [command]}]},
        tmp_path / "spec.json",
    )
    test = dataclasses.replace(spec.tests[0], stop_when=stop_when)
    platform = get_platform("host")
    try:
        runner = ArmRunner(get_framework("generic"), platform, test, {}, timeout=120)
        result = run_ab(runner, Arm("treatment", sys.executable), Arm("control", sys.executable), {}, progress=None)
    finally:
        platform.close()
    assert result.ok, result.failure
    assert result.meta["stop_when"] == stop_when
    assert len(result.meta["rounds"]) == rounds
    assert result.meta["looks"] == ([7, 12, 20] if stop_when == "net" else [6, 11, 20])
    assert result.data[NET_KEY].comparison.verdict is Verdict.NO_CHANGE
    assert result.data["Conv latency"].comparison.verdict is Verdict.INCONCLUSIVE
    reason = why_stopped(result, rounds, result.meta["looks"])
    if stop_when == "net":
        assert reason == (
            "NET had its verdict at look 1 of 3 (7 rounds), when an operator could already show a regression "
            "(stop_when net); 1 operator(s) stayed inconclusive"
        )
    else:
        assert reason.startswith("reached max_rounds at look 3 of 3 (20 rounds); ")


def test_the_stop_when_flag_travels_in_the_job():
    job = parse_job(["-b", "spec.json", "--info", "{}", "--stop_when", "every_metric"])
    assert job.settings.stop_when == "every_metric"
    assert Job.from_json(job.to_json()).settings.stop_when == "every_metric"


def test_the_stop_when_flag_overrides_the_spec(tmp_path):
    script = tmp_path / "swinging.py"
    script.write_text(SWINGING_PROGRAM)
    fields = {"identifier": "t", "metric": "delay", "iter": 3, "min_rounds": 6, "max_rounds": 20}
    test = {**fields, "stop_when": "every_metric", "commands": [f"{{program}} {script} {tmp_path / 'positions'}"]}
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"model": {"name": "swing", "format": "generic"}, "tests": [test]}))
    arms = {"treatment": {"program": sys.executable}, "control": {"program": sys.executable}}
    job = parse_job(["-b", str(spec), "--info", json.dumps(arms), "--no_db", "--stop_when", "net"])
    (result,) = run_job(job, progress=io.StringIO()).results
    assert result.ok, result.failure
    assert result.meta["stop_when"] == "net"
    assert len(result.meta["rounds"]) == 7


def test_a_bad_stop_when_flag_is_one_line_and_exit_2(capsys):
    status = main(["-b", "spec.json", "--info", "{}", "--stop_when", "soon"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "--stop_when" in err and "'soon'" in err


def test_a_bad_stop_when_in_a_spec_is_one_line_naming_the_field(tmp_path, capsys):
    spec = tmp_path / "bad.json"
    spec.write_text(
        '{"model": {"name": "m", "format": "generic"}, "tests": [{"identifier": "t", "metric": "delay", '
        '"commands": ["{program} -c pass"], "stop_when": "soon"}]}'
    )
    status = main(["--db", str(tmp_path / "db"), "-b", str(spec), "--info", '{"treatment": {"program": "x"}}'])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "bad.json" in err and "stop_when" in err and "net, every_metric" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["round_statistic", "round_design", "stop_when"])
def test_a_job_from_json_with_an_unknown_choice_is_refused_in_one_line(tmp_path, name):
    """A lab job passes no argparse `choices`; the job runner names the setting and what it expects."""
    spec = tmp_path / "spec.json"
    test = {"identifier": "t", "metric": "delay", "commands": ["{program} -c pass"]}
    spec.write_text(json.dumps({"model": {"name": "m", "format": "generic"}, "tests": [test]}))
    job = parse_job(["-b", str(spec), "--info", json.dumps({"treatment": {"program": sys.executable}}), "--no_db"])
    document = json.loads(job.to_json())
    document["settings"][name] = "soon"
    with pytest.raises(UserError) as refused:
        run_job(Job.from_json(json.dumps(document)), progress=io.StringIO())
    assert str(refused.value).startswith(f"{name}: expected one of ") and "'soon'" in str(refused.value)
