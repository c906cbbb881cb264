"""End-to-end A/B runs of real programs: the microkernel, and small scripted programs."""

import json
import sys
import textwrap
from pathlib import Path

import pytest

from aipep_core.job import Arm, Arms, Job
from aipep_core.spec import load_benchmarks, parse_spec
from frameworks import get_framework
from harness import ab_run
from harness.ab_run import arm_order, run_ab
from harness.arm import ArmRunner
from harness.error_run import run_error
from harness.output_error import read_outputs
from harness.run_meta import build_meta
from platforms import get_platform
from tests.shipped_specs import ALTERNATING_SPEC, MICROKERNEL_SPEC


@pytest.fixture
def host():
    platform = get_platform("host")
    yield platform
    platform.close()


def microkernel_spec(**overrides):
    document = json.loads(MICROKERNEL_SPEC.read_text())
    document["tests"][0].update(overrides)
    return parse_spec(document, MICROKERNEL_SPEC)


def microkernel_test(**overrides):
    return microkernel_spec(**overrides).tests[0]


def verdicts(result):
    return {key: metric.comparison.verdict for key, metric in result.data.items() if metric.comparison}


def run(host, test, treatment, control, **kwargs):
    """An A/B run with the meta the harness gives it (harness/run_meta.py)."""
    runner = ArmRunner(get_framework("microkernel"), host, test, {}, timeout=120)
    arms = Arms(Arm("treatment", str(treatment), "new"), Arm("control", str(control), "old"))
    job = Job(specs=(str(MICROKERNEL_SPEC),), arms=arms)
    meta = build_meta(job, microkernel_spec(), test, "microkernel", host.describe().as_dict(), arms.all(), None)
    return run_ab(runner, arms.treatment, arms.control, meta, **kwargs)


def test_large_slowdown_is_flagged_on_the_right_operator_and_net(host, build_microkernel):
    """Triple the MatMul work, about +50% on NET, in alternating rounds. A shared VM's speed moves
    in phases of a fraction of a second (one 2-vCPU VM: a process's fastest NET iteration 4.0 ms
    in one process, 8.3 ms in the next); sequential rounds pair processes that far apart and made
    untouched operators significant by up to 4% either way (MaxPool +3.7%, q 0.001, failed a CI
    run), while taking turns pairs iterations a few milliseconds apart.

    Why MatMul, not the first operator: on one VM class a tripled Conv really slows the operators
    after it, whatever the build (benchmarks/operator_interference.py, one binary given --work
    Conv=300: Relu +10.7%, MaxPool +6.0%, MatMul +11.0%), and the verdicts rightly flagged MatMul
    (+2.4% to +5.2%, above its floor) in 6 of 7 runs of the Conv-tripled test. A tripled MatMul
    moved every other operator by under 1% there, and left them unflagged in six runs of six,
    host and SSH."""
    (benchmark,) = load_benchmarks(ALTERNATING_SPEC)
    test = benchmark.tests[0]
    result = run(host, test, build_microkernel("-DMATMUL_UNITS=300"), build_microkernel(), progress=None)
    found = verdicts(result)
    assert result.ok
    assert result.meta["round_design"] == "alternating"
    assert found["MatMul latency"] == "regression"
    assert found["NET latency"] == "regression"
    assert result.data["MatMul latency"].comparison.estimate_pct > 20
    for key in ("Conv latency", "Relu latency", "MaxPool latency", "Softmax latency"):
        assert found[key] != "regression", (key, result.data[key].comparison)
    assert result.data["MatMul latency"].comparison.q_value is not None
    assert result.data["NET latency"].comparison.q_value is None


def test_a_a_run_flags_nothing(host, build_microkernel):
    program = build_microkernel()
    result = run(host, microkernel_test(), program, program, progress=None)
    assert result.ok
    assert "regression" not in verdicts(result).values()
    meta = result.meta
    assert meta["control_commit"] == "old"
    assert meta["round_order"][:4] == ["TC", "CT", "TC", "CT"]
    assert len(meta["rounds"]) == len(result.data["NET latency"].round_values)
    assert meta["device_seconds"] > 0
    net = result.data["NET latency"]
    assert set(net.diff_summary) >= {"mean", "p50", "p90"}
    assert len(net.control_values) == len(net.values) == 20 * len(net.round_values)


def test_verify_order_starts_with_control():
    assert [arm_order(i) for i in range(3)] == [
        ("treatment", "control"),
        ("control", "treatment"),
        ("treatment", "control"),
    ]
    assert arm_order(0, reverse=True) == ("control", "treatment")


FAKE_PROGRAM = textwrap.dedent(
    """
    import json, pathlib, sys, time
    counter = pathlib.Path(sys.argv[1])
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    values = [500.0, 500.0, 500.0] if calls == int(sys.argv[2]) else [100.0, 101.0, 99.0]
    if calls == int(sys.argv[3]):
        print("simulated crash", file=sys.stderr)
        sys.exit(9)
    start = time.process_time()
    while time.process_time() - start < 0.05:
        pass
    print("AIPEP " + json.dumps({"type": "NET", "metric": "latency", "unit": "us", "values": values}))
    """
)


def scripted_test(tmp_path, marked_call: int, crash_on_call: int):
    script = tmp_path / "fake.py"
    script.write_text(FAKE_PROGRAM)
    command = f"{{program}} {script} {tmp_path / 'calls.count'} {marked_call} {crash_on_call}"
    treatment = {"identifier": "t", "metric": "delay", "iter": 3, "min_rounds": 7, "max_rounds": 8}
    spec = parse_spec(
        {"model": {"name": "fake", "format": "generic"}, "tests": [{**treatment, "commands": [command]}]},
        tmp_path / "spec.json",
    )
    return spec.tests[0]


def disturbed_once_after(calls_file: Path, call: int):
    """A judgement in place of the CPU-share one: the round holding the program's `call`-th run is
    disturbed, the first time it is judged; every other round is not, however loaded the machine is."""
    fired = []

    def is_disturbed(share, history) -> bool:
        disturbed = not fired and int(calls_file.read_text()) >= call
        if disturbed:
            fired.append(call)
        return disturbed

    return is_disturbed


def test_a_disturbed_round_is_rerun_and_logged(tmp_path, host, monkeypatch):
    test = scripted_test(tmp_path, marked_call=5, crash_on_call=0)
    monkeypatch.setattr(ab_run, "is_disturbed", disturbed_once_after(tmp_path / "calls.count", 5))
    runner = ArmRunner(get_framework("generic"), host, test, {}, timeout=60)
    result = run_ab(runner, Arm("treatment", sys.executable), Arm("control", sys.executable), {}, progress=None)
    assert result.ok, result.failure
    [rerun] = result.meta["rerun_rounds"]
    assert (rerun["round"], rerun["reason"], rerun["disturbed"]) == (2, "cpu stolen", True)
    assert [facts["round"] for facts in result.meta["rounds"]] == list(range(8))
    assert not any(facts["disturbed"] for facts in result.meta["rounds"])
    net = result.data["NET latency"]
    assert len(net.round_values) == 8
    assert 500.0 not in net.values + net.control_values  # the marked run was in the round that was re-run
    assert 500.0 in rerun["samples"]["treatment"]["NET latency"] + rerun["samples"]["control"]["NET latency"]
    assert (tmp_path / "calls.count").read_text() == str(2 * 9)


def test_a_crash_mid_run_is_recorded_with_logs(tmp_path, host):
    test = scripted_test(tmp_path, marked_call=0, crash_on_call=4)
    runner = ArmRunner(get_framework("generic"), host, test, {}, timeout=60)
    result = run_ab(runner, Arm("treatment", sys.executable), Arm("control", sys.executable), {}, progress=None)
    assert not result.ok
    assert "exited with status 9" in result.failure
    assert any("simulated crash" in text for text in result.logs.values())


def test_error_metric_against_control_and_golden(tmp_path, host, build_microkernel):
    test = microkernel_test(
        metric="error", iter=1, commands=["{program} --warmup 0 --iter 1 --output {output_file}"], error_tolerance=1e-6
    )
    runner = ArmRunner(get_framework("microkernel"), host, test, {}, timeout=60)
    program = str(build_microkernel())
    same = run_error(runner, Arm("treatment", program), Arm("control", program), None, {})
    assert same.ok, same.failure
    assert verdicts(same)["output max_abs_error"] == "no_change"
    assert same.data["output top1_agreement"].values == [1.0]

    golden_path = tmp_path / "golden.json"
    runner.run_once(Arm("treatment", program), "golden")
    produced = runner.run_once(Arm("treatment", program), "probe").outputs["output"]
    golden_path.write_text(json.dumps({"shape": list(produced.shape), "values": (produced * 1.01).ravel().tolist()}))
    drifted = run_error(runner, Arm("treatment", program), None, read_outputs(golden_path), {})
    assert verdicts(drifted)["output max_abs_error"] == "regression"
