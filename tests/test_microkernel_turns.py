"""The C sample takes turns too: alternating rounds for a compiled program, not only Python ones.

The protocol is turn_taking.py's, so a C process and a Python one can be partners. That is how
the order is shown without a clock: the Python partner, in each of its turns, reads how many
bytes the C process has written so far (/proc/PID/io counts write calls), and strict turns
leave exactly one more each time: the start-of-pass byte, then one per timed iteration. A C
process that ran ahead would have written more.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aipep_core.job import Arm
from aipep_core.spec import load_benchmarks
from frameworks import get_framework
from harness.ab_run import run_ab
from harness.arm import ArmRunner
from platforms import get_platform
from tests.shipped_specs import ALTERNATING_SPEC, MICROKERNEL_SPEC

REPO = Path(__file__).resolve().parent.parent
PARTS = REPO / "frameworks" / "program_parts"
ITERATIONS = 6
ROUNDS = 5
TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/PID/io")

PARTNER = textwrap.dedent(
    """
    import argparse, json, sys
    sys.path.insert(0, sys.argv.pop(1))
    import turn_taking

    parser = argparse.ArgumentParser()
    parser.add_argument("pid")
    parser.add_argument("iterations", type=int)
    turn_taking.add_turn_arguments(parser)
    args = parser.parse_args()
    turns = turn_taking.turns_from_args(args, SystemExit)
    seen = []
    with turns.timed_pass():
        for _ in range(args.iterations):
            with turns.turn():
                with open(f"/proc/{args.pid}/io") as io:
                    seen.append(int(dict(line.split(": ") for line in io.read().splitlines())["syscw"]))
    print(json.dumps(seen))
    """
)


def test_a_c_process_and_a_python_partner_take_strict_turns(tmp_path, build_microkernel):
    receive, send = tmp_path / "to_c", tmp_path / "to_python"
    c_flags = ["--turn_fifos", f"{receive},{send}", "--turn_first", "--turn_deadline", "30"]
    c_process = subprocess.Popen(
        [str(build_microkernel()), "--warmup", "1", "--iter", str(ITERATIONS), *c_flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        partner = subprocess.run(
            [sys.executable, "-c", PARTNER, str(PARTS), str(c_process.pid), str(ITERATIONS),
             "--turn_fifos", f"{send},{receive}", "--turn_deadline", "30"],
            capture_output=True, text=True, timeout=TIMEOUT_S,
        )  # fmt: skip
        out, err = c_process.communicate(timeout=TIMEOUT_S)
    finally:
        c_process.kill()
    assert partner.returncode == 0, partner.stderr
    assert c_process.returncode == 0, err
    assert json.loads(partner.stdout) == list(range(2, ITERATIONS + 2))
    net = next(json.loads(line[6:]) for line in out.splitlines() if line.startswith("AIPEP ") and '"NET"' in line)
    assert len(net["values"]) == ITERATIONS


def test_a_partner_that_never_comes_ends_the_wait_at_the_deadline_in_one_line(tmp_path, build_microkernel):
    flags = ["--turn_fifos", f"{tmp_path / 'a'},{tmp_path / 'b'}", "--turn_first", "--turn_deadline", "0.2"]
    done = subprocess.run(
        [str(build_microkernel()), "--iter", "2", *flags], capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert done.returncode == 1
    assert done.stderr == "microkernel: taking turns: the partner process handed over no turn within 0.2 s\n"
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--turn_fifos", "{dir}/plain,{dir}/b"], "microkernel: --turn_fifos {dir}/plain: exists and is no named pipe"),
        (["--turn_fifos", "{dir}/a"], "microkernel: --turn_fifos expects RECEIVE,SEND (two named pipe paths), "
         "got '{dir}/a' (see --help)"),
        (["--turn_deadline", "0"], "microkernel: --turn_deadline expects seconds > 0, got '0' (see --help)"),
    ],
)  # fmt: skip
def test_bad_turn_flags_are_one_line_and_exit_2(tmp_path, build_microkernel, flags, message):
    (tmp_path / "plain").write_text("not a pipe")
    argv = [flag.format(dir=tmp_path) for flag in flags]
    done = subprocess.run([str(build_microkernel()), *argv], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 2
    assert done.stderr == message.format(dir=tmp_path) + "\n"


def test_a_microkernel_ab_runs_alternating_rounds_on_the_host(build_microkernel):
    (benchmark,) = load_benchmarks(ALTERNATING_SPEC)
    test = dataclasses.replace(benchmark.tests[0], min_rounds=ROUNDS, max_rounds=ROUNDS)
    runner = ArmRunner(get_framework("microkernel"), get_platform("host"), test, {}, timeout=TIMEOUT_S)
    program = str(build_microkernel())
    result = run_ab(runner, Arm("treatment", program), Arm("control", program), {}, progress=None)
    assert result.ok, result.failure
    assert result.meta["round_design"] == "alternating"
    assert result.meta["round_work"]["iterations_per_turn"] == 1
    assert len(result.data["NET latency"].values) == ROUNDS * test.iter
    for facts in result.meta["rounds"]:
        assert facts["device_seconds"] == max(facts["treatment"]["wall_seconds"], facts["control"]["wall_seconds"])


def test_the_shipped_spec_with_its_own_command_stays_sequential():
    (benchmark,) = load_benchmarks(MICROKERNEL_SPEC)
    assert get_framework("microkernel").why_no_turns(benchmark.tests[0]) == "the test runs its own commands"
    (alternating,) = load_benchmarks(ALTERNATING_SPEC)
    assert get_framework("microkernel").why_no_turns(alternating.tests[0]) is None
