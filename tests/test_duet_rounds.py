"""Duet rounds: both arms at once on disjoint CPU sets that swap every round, on the host and over SSH.

Concurrency is shown without a clock: each process waits (with a deadline) for its round's
partner to arrive at a rendezvous file, which only a concurrent partner can do in time; each
process reports the CPUs the kernel lets it run on, which must be the set the harness recorded.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap

import pytest
from sshd_fixture import SSHD, start_sshd

from aipep_core.job import Arm, Job
from aipep_core.spec import parse_spec
from frameworks import get_framework
from harness.ab_run import run_ab
from harness.arm import ArmRunner
from harness.cli import main
from harness.cli_args import parse_job
from platforms import get_platform

ROUNDS = 5
PARTNER_DEADLINE_S = 60
# Arrives, then waits for its partner: process k of the run (0-based) needs 2 * (k // 2 + 1) arrivals.
RENDEZVOUS_PROGRAM = textwrap.dedent(
    """
    import json, os, sys, time
    arrivals, deadline_s = sys.argv[1], float(sys.argv[2])
    fd = os.open(arrivals, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, b"x")
    os.close(fd)
    position = os.path.getsize(arrivals) - 1
    needed = 2 * (position // 2 + 1)
    deadline = time.monotonic() + deadline_s
    while os.path.getsize(arrivals) < needed:
        if time.monotonic() > deadline:
            print("partner never arrived", file=sys.stderr)
            sys.exit(4)
        time.sleep(0.01)
    print("cpus " + json.dumps(sorted(os.sched_getaffinity(0))), file=sys.stderr)
    values = [100.0, 101.0, 99.0]
    print("AIPEP " + json.dumps({"type": "NET", "metric": "latency", "unit": "us", "values": values}))
    """
)
PLAIN_PROGRAM = 'import json; print("AIPEP " + json.dumps({"type": "NET", "metric": "latency", "unit": "us", "values": [1.0, 1.1]}))'  # noqa: E501

needs_two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="duet rounds need two CPUs")


def rendezvous_test(tmp_path, deadline_s=PARTNER_DEADLINE_S, **fields):
    script = tmp_path / "rendezvous.py"
    script.write_text(RENDEZVOUS_PROGRAM)
    command = f"{{program}} {script} {tmp_path / 'arrivals'} {deadline_s}"
    test = {"identifier": "t", "metric": "delay", "iter": 3, "min_rounds": ROUNDS, "max_rounds": ROUNDS, **fields}
    spec = parse_spec(
        {"model": {"name": "duet", "format": "generic"}, "tests": [{**test, "commands": [command]}]},
        tmp_path / "spec.json",
    )
    return spec.tests[0]


def run_rounds(platform, test, program=sys.executable):
    runner = ArmRunner(get_framework("generic"), platform, test, {}, timeout=120)
    return run_ab(runner, Arm("treatment", program), Arm("control", program), {}, progress=None)


def reported_cpus(result, round_index, arm):
    (line,) = [x for x in result.logs[f"round{round_index}_{arm}.stderr"].splitlines() if x.startswith("cpus ")]
    return json.loads(line.removeprefix("cpus "))


def assert_concurrent_disjoint_and_swapped(result):
    assert result.ok, result.failure
    assert result.meta["round_design"] == "duet"
    assert result.meta["round_work"] == {
        "design": "duet", "processes_per_arm": 1, "warmup": 0, "iter": 3, "operators": True,
        "net_in_operator_pass": False, "iterations_per_turn": None,
    }  # fmt: skip
    rounds = result.meta["rounds"]
    assert len(rounds) == ROUNDS
    for index, facts in enumerate(rounds):
        treatment, control = reported_cpus(result, index, "treatment"), reported_cpus(result, index, "control")
        assert treatment == facts["treatment"]["cpus"] and control == facts["control"]["cpus"]
        assert treatment and control and not set(treatment) & set(control)
        if index:
            assert treatment == rounds[index - 1]["control"]["cpus"]
            assert control == rounds[index - 1]["treatment"]["cpus"]


@pytest.fixture
def host():
    platform = get_platform("host")
    yield platform
    platform.close()


@needs_two_cpus
def test_duet_rounds_run_both_arms_at_once_on_disjoint_swapped_cpus(host, tmp_path):
    assert_concurrent_disjoint_and_swapped(run_rounds(host, rendezvous_test(tmp_path, round_design="duet")))


@needs_two_cpus
def test_sequential_rounds_never_run_the_arms_at_once(host, tmp_path):
    """The rendezvous is a real test of concurrency: one arm after the other, the first never meets its partner."""
    result = run_rounds(host, rendezvous_test(tmp_path, deadline_s=0))
    assert not result.ok
    assert "exited with status 4" in result.failure
    assert result.meta["round_design"] == "sequential"


def test_a_test_with_more_threads_than_half_the_cpus_says_so_and_runs_sequential_rounds(host, tmp_path, capsys):
    script = tmp_path / "plain.py"
    script.write_text(PLAIN_PROGRAM)
    fields = {"identifier": "t", "metric": "delay", "iter": 2, "min_rounds": 5, "max_rounds": 5}
    spec = parse_spec(
        {
            "model": {"name": "duet", "format": "generic"},
            "tests": [{**fields, "threads": 4096, "round_design": "duet", "commands": [f"{{program}} {script}"]}],
        },
        tmp_path / "spec.json",
    )
    runner = ArmRunner(get_framework("generic"), host, spec.tests[0], {}, timeout=120)
    result = run_ab(runner, Arm("treatment", sys.executable), Arm("control", sys.executable), {}, progress=sys.stderr)
    assert result.ok, result.failure
    line = (
        f"round_design duet: needs 8192 CPUs (4096 thread(s) per arm, both arms at once), the device offers "
        f"{len(os.sched_getaffinity(0))}; running sequential rounds"
    )
    assert f"harness: {line}\n" in capsys.readouterr().err
    assert result.meta["round_design"] == "sequential"
    assert result.meta["round_design_note"] == line
    assert result.meta["round_work"]["design"] == "sequential"
    assert all("cpus" not in facts["treatment"] for facts in result.meta["rounds"])


def test_a_taskset_of_one_cpu_leaves_no_cpus_for_a_duet(host, tmp_path):
    script = tmp_path / "plain.py"
    script.write_text(PLAIN_PROGRAM)
    fields = {"identifier": "t", "metric": "delay", "iter": 2, "min_rounds": 5, "max_rounds": 5}
    spec = parse_spec(
        {
            "model": {"name": "duet", "format": "generic"},
            "tests": [
                {
                    **fields,
                    "round_design": "duet",
                    "platform_args": {"taskset": "1"},
                    "commands": [f"{{program}} {script}"],
                }
            ],
        },
        tmp_path / "spec.json",
    )
    runner = ArmRunner(get_framework("generic"), host, spec.tests[0], {}, timeout=120)
    result = run_ab(runner, Arm("treatment", sys.executable), Arm("control", sys.executable), {}, progress=None)
    assert result.ok, result.failure
    assert result.meta["round_design_note"] == (
        "round_design duet: needs 2 CPUs (1 thread(s) per arm, both arms at once), platform_args.taskset gives 1; "
        "running sequential rounds"
    )


def test_a_bad_round_design_in_a_spec_is_one_line_naming_the_field(tmp_path, capsys):
    spec = tmp_path / "bad.json"
    spec.write_text(
        json.dumps(
            {
                "model": {"name": "duet", "format": "generic"},
                "tests": [
                    {
                        "identifier": "t",
                        "metric": "delay",
                        "iter": 2,
                        "round_design": "parallel",
                        "commands": ["{program}"],
                    }
                ],
            }  # fmt: skip
        )
    )
    status = main(
        ["--db", str(tmp_path / "db"), "-b", str(spec), "--info", json.dumps({"treatment": {"program": "x"}})]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "bad.json" in err and "round_design" in err
    assert "sequential, duet, alternating" in err
    assert "Traceback" not in err


def test_a_bad_round_design_flag_is_one_line_and_exit_2(tmp_path, capsys):
    status = main(["-b", "spec.json", "--info", "{}", "--round_design", "parallel"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "--round_design" in err and "'parallel'" in err


def test_the_round_design_flag_travels_in_the_job():
    job = parse_job(["-b", "spec.json", "--info", "{}", "--round_design", "duet"])
    assert job.settings.round_design == "duet"
    assert Job.from_json(job.to_json()).settings.round_design == "duet"
    assert parse_job(["-b", "spec.json", "--info", "{}"]).settings.round_design is None


@pytest.mark.skipif(not SSHD.exists(), reason=f"{SSHD} is missing: apt-get install -y openssh-server")
@needs_two_cpus
def test_duet_rounds_over_ssh_pin_each_arm_on_the_board(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    server = start_sshd(tmp_path / "sshd")
    board = get_platform("ssh", **server.options(remote_dir=str(tmp_path / "remote")))
    try:
        board.prepare()
        assert board.cpu_ids() == sorted(os.sched_getaffinity(0))
        test = rendezvous_test(tmp_path, round_design="duet")
        assert_concurrent_disjoint_and_swapped(run_rounds(board, test, program="python3"))
    finally:
        board.close()
        server.stop()
