"""An A/B regression test like the host's, run on an Android device (the loopback device) instead."""

from __future__ import annotations

import json
import shlex
import shutil
import socket
import sys

import pytest

from aipep_core.job import Arm
from aipep_core.spec import parse_spec
from frameworks import get_framework
from harness.ab_run import run_ab
from harness.arm import ArmRunner
from platforms import get_platform
from platforms.android.loopback.process import LoopbackDevice
from tests.shipped_specs import ALTERNATING_SPEC, MICROKERNEL_SPEC


@pytest.fixture
def android(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with LoopbackDevice(tmp_path / "device") as device:
        platform = get_platform("android", device=device.address, timeout=120)
        platform.prepare()
        yield platform
        platform.close()


def conv_tripled_ab(android, build_microkernel, spec_path, progress=None):
    """An A/B of the microkernel with its Conv work tripled, a slowdown no background load on a
    shared build machine can hide, on few short rounds."""
    document = json.loads(spec_path.read_text())
    document["tests"][0].update(iter=10, min_rounds=8, max_rounds=16)
    spec = parse_spec(document, spec_path)
    runner = ArmRunner(get_framework("microkernel"), android, spec.tests[0], {}, timeout=120)
    treatment = Arm("treatment", str(build_microkernel("-DCONV_UNITS=300")), "new")
    control = Arm("control", str(build_microkernel()), "old")
    result = run_ab(runner, treatment, control, {}, progress=progress)
    assert result.ok, result.failure
    verdicts = {key: metric.comparison.verdict for key, metric in result.data.items() if metric.comparison}
    assert verdicts["Conv latency"] == "regression"
    return result, runner, verdicts


def test_a_large_slowdown_is_flagged_on_an_android_device(android, build_microkernel):
    _, runner, verdicts = conv_tripled_ab(android, build_microkernel, MICROKERNEL_SPEC)
    assert verdicts["NET latency"] == "regression"
    assert all(program.startswith("/data/local/tmp/aipep/files/") for program in runner._programs.values())


def test_rounds_that_run_both_arms_at_once_say_why_not_and_run_sequential_rounds(android, build_microkernel, capsys):
    """An arm waiting for its partner's turn holds the one ADB connection, so the partner could
    never start: before this line, alternating rounds on Android lost the device after 30 s."""
    result, _, _ = conv_tripled_ab(android, build_microkernel, ALTERNATING_SPEC, progress=sys.stderr)
    note = "round_design alternating: one ADB connection runs one shell command at a time; running sequential rounds"
    assert result.meta["round_design"] == "sequential"
    assert result.meta["round_design_note"] == note
    assert capsys.readouterr().err.startswith(f"harness: {note}\n")


def test_a_device_that_cannot_be_reached_fails_its_tests_and_the_next_device_runs(tmp_path, monkeypatch, capsys):
    from harness.cli import main
    from harness.store.result_store import ResultStore

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        gone = f"127.0.0.1:{closed.getsockname()[1]}"
    program = shutil.which("sh")
    spec = tmp_path / "spec.json"
    line = "AIPEP " + json.dumps({"type": "NET", "metric": "latency", "unit": "us", "value": 5})
    command = "{program} -c " + shlex.quote("echo " + shlex.quote(line))
    test = {"identifier": "echo", "metric": "delay", "iter": 1, "commands": [command]}
    spec.write_text(json.dumps({"model": {"name": "scripted", "format": "generic"}, "tests": [test]}))
    with LoopbackDevice(tmp_path / "device") as device:
        status = main(
            ["-b", str(spec), "-p", "android", "-d", f"{gone},{device.address}", "--db", str(tmp_path / "aipep.db"),
             "--info", json.dumps({"treatment": {"program": program, "commit": "c1"}})]
        )  # fmt: skip
    assert status == 1
    err = capsys.readouterr().err
    assert f"android device {gone}: --devices: {gone}: cannot connect over ADB" in err
    with ResultStore(tmp_path / "aipep.db") as store:
        runs = {run.meta["device"]["identifier"]: run for run in store.find_runs(model="scripted")}
    assert set(runs) == {gone, device.address}
    assert runs[gone].status == "failure" and "cannot connect over ADB" in runs[gone].failure
    assert runs[device.address].ok and runs[device.address].data["NET latency"].values == [5.0]


def test_an_android_dir_the_device_cannot_create_fails_its_tests_with_the_reason(tmp_path, monkeypatch, capsys):
    """Before any program runs: one line naming the directory and why, and each test recorded as failed with it.

    The program is the device's own `sh`, so nothing is pushed that could name the problem first.
    """
    from harness.cli import main
    from harness.store.result_store import ResultStore

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    ran = tmp_path / "ran"
    spec = tmp_path / "spec.json"
    command = "{program} -c " + shlex.quote(f"echo ran > {ran}")
    test = {"identifier": "touch", "metric": "delay", "iter": 1, "commands": [command]}
    spec.write_text(json.dumps({"model": {"name": "scripted", "format": "generic"}, "tests": [test]}))
    wanted = "/data/local/tmp/blocker/aipep"
    with LoopbackDevice(tmp_path / "device") as device:
        (device.root / "data" / "local" / "tmp" / "blocker").write_text("a file, not a directory\n")
        status = main(
            ["-b", str(spec), "-p", "android", "-d", device.address, "--android_dir", wanted,
             "--db", str(tmp_path / "aipep.db"), "--info", json.dumps({"treatment": {"program": "sh"}})]
        )  # fmt: skip
    assert status == 1
    reason = f"--android_dir: {wanted}: android device {device.address} cannot create it (Not a directory)"
    assert capsys.readouterr().err == (
        f"harness: android device {device.address}: {reason}; its remaining tests are recorded as failed\n"
    )
    with ResultStore(tmp_path / "aipep.db") as store:
        (run,) = store.find_runs(model="scripted")
    assert run.status == "failure" and reason in run.failure and "125" not in run.failure
    assert not ran.exists()
