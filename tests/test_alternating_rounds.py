"""Alternating rounds: both arms' processes start together and take turns, one timed iteration each.

Turn taking is shown without a clock: each arm's interpreter is a launcher whose
`sitecustomize` appends the arm's letter to one shared file whenever a timed inference starts,
so the file holds the order in which the two processes ran them. Warm-up is off, so every
inference is a timed one and a round's letters must alternate strictly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sshd_fixture import SSHD, start_sshd

from aipep_core.job import Arm
from aipep_core.spec import parse_spec
from frameworks import get_framework
from frameworks.base import TurnPipes
from frameworks.onnxruntime.framework import BENCH_PROGRAM
from harness.ab_run import run_ab
from harness.alternating_round import why_not_alternating
from harness.arm import ArmRunner
from harness.generated_models import generate_model
from platforms import get_platform

ROUNDS = 5
ITERATIONS = 6
PROGRAM_TIMEOUT_S = 120
PARTS = BENCH_PROGRAM.parents[1] / "program_parts"

LOGGING_SITECUSTOMIZE = """\
import os
import onnxruntime

_run = onnxruntime.InferenceSession.run


def _logged(self, *args, **kwargs):
    with open(os.environ["AIPEP_TEST_TURN_LOG"], "a") as log:
        log.write(os.environ["AIPEP_TEST_ARM"])
    return _run(self, *args, **kwargs)


onnxruntime.InferenceSession.run = _logged
"""


def launcher(folder: Path, arm_letter: str, log: Path, exit_status: int | None = None) -> Path:
    """An interpreter for one arm: this Python with the logging sitecustomize (or one that fails at once)."""
    folder.mkdir(parents=True)
    (folder / "sitecustomize.py").write_text(LOGGING_SITECUSTOMIZE)
    script = folder / "python"
    body = f"exit {exit_status}" if exit_status is not None else f'exec "{sys.executable}" "$@"'
    script.write_text(
        f"#!/bin/sh\nexport PYTHONPATH='{folder}' AIPEP_TEST_ARM={arm_letter} AIPEP_TEST_TURN_LOG='{log}'\n{body}\n"
    )
    script.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def tiny_convnet(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny_convnet.onnx"
    generate_model("tiny_convnet.onnx", path)
    return path


@pytest.fixture
def host():
    platform = get_platform("host")
    yield platform
    platform.close()


def convnet_test(tmp_path: Path, **fields):
    test = {
        "identifier": "tiny_convnet",
        "metric": "delay",
        "warmup": 0,
        "iter": ITERATIONS,
        "min_rounds": ROUNDS,
        "max_rounds": ROUNDS,
        "round_design": "alternating",
        "inputs": {"input": {"shapes": [[1, 3, 32, 32]], "type": "float"}},
        **fields,
    }
    spec = {"model": {"name": "tiny_convnet", "format": "onnxruntime"}, "tests": [test]}
    return parse_spec(spec, tmp_path / "spec.json").tests[0]


def run_rounds(platform, test, model: Path, treatment: Path, control: Path):
    runner = ArmRunner(get_framework("onnxruntime"), platform, test, {"model": str(model)}, timeout=PROGRAM_TIMEOUT_S)
    return run_ab(runner, Arm("treatment", str(treatment)), Arm("control", str(control)), {}, progress=None)


def turn_log_per_process_pair(log: Path, passes: int) -> list[str]:
    letters = log.read_text()
    per_pair = 2 * ITERATIONS * passes
    assert len(letters) % per_pair == 0, letters
    return [letters[i : i + per_pair] for i in range(0, len(letters), per_pair)]


def assert_alternating(result, log: Path, passes: int) -> None:
    """Every pair of processes (a kept round, or one re-run because it was disturbed) took turns,
    the arm named first in the round's order starting."""
    assert result.ok, result.failure
    assert result.meta["round_design"] == "alternating"
    assert result.meta["round_work"]["iterations_per_turn"] == 1
    reruns = [r["round"] for r in result.meta["rerun_rounds"]]
    firsts = [
        order[0] for index, order in enumerate(result.meta["round_order"]) for _ in range(1 + reruns.count(index))
    ]
    pairs = turn_log_per_process_pair(log, passes)
    assert len(pairs) == len(firsts) == ROUNDS + len(reruns)
    for first, letters in zip(firsts, pairs, strict=True):
        second = "C" if first == "T" else "T"
        assert letters == (first + second) * ITERATIONS * passes, letters
    for facts in result.meta["rounds"]:
        assert facts["device_seconds"] == max(facts["treatment"]["wall_seconds"], facts["control"]["wall_seconds"])
    assert len(result.data["NET latency"].values) == ROUNDS * ITERATIONS


def test_alternating_rounds_take_turns_one_timed_inference_each(host, tmp_path, tiny_convnet):
    log = tmp_path / "turns.log"
    treatment, control = launcher(tmp_path / "t", "T", log), launcher(tmp_path / "c", "C", log)
    result = run_rounds(host, convnet_test(tmp_path, operators=False), tiny_convnet, treatment, control)
    assert_alternating(result, log, passes=1)
    # Every round's pair reached the statistics. The verdict itself is not asserted: in an A/A of
    # five rounds all five signs agree one way in 1 of 32 runs, which the test cannot rule out.
    net = result.data["NET latency"]
    assert net.comparison.rounds == ROUNDS
    assert len(net.control_values) == ROUNDS * ITERATIONS


def test_the_profiled_operator_pass_takes_turns_too(host, tmp_path, tiny_convnet):
    log = tmp_path / "turns.log"
    treatment, control = launcher(tmp_path / "t", "T", log), launcher(tmp_path / "c", "C", log)
    result = run_rounds(host, convnet_test(tmp_path), tiny_convnet, treatment, control)
    assert_alternating(result, log, passes=2)
    assert any(key != "NET latency" and key.endswith(" latency") for key in result.data)


def test_sequential_rounds_run_each_arms_inferences_together(host, tmp_path, tiny_convnet):
    """The log is a real test of turn taking: without turns one arm's letters come in one block."""
    log = tmp_path / "turns.log"
    treatment, control = launcher(tmp_path / "t", "T", log), launcher(tmp_path / "c", "C", log)
    test = convnet_test(tmp_path, operators=False, round_design="sequential")
    result = run_rounds(host, test, tiny_convnet, treatment, control)
    assert result.ok and result.meta["round_design"] == "sequential"
    assert turn_log_per_process_pair(log, passes=1)[0] == "T" * ITERATIONS + "C" * ITERATIONS


def test_an_arm_that_fails_releases_its_partner_and_the_round_keeps_both_logs(host, tmp_path, tiny_convnet):
    log = tmp_path / "turns.log"
    treatment, control = launcher(tmp_path / "t", "T", log, exit_status=3), launcher(tmp_path / "c", "C", log)
    result = run_rounds(host, convnet_test(tmp_path, operators=False), tiny_convnet, treatment, control)
    assert not result.ok
    assert "treatment program exited with status 3" in result.failure
    assert "partner process ended before handing over its turn" in result.failure
    assert not log.exists() or "C" not in log.read_text()
    stderr = [text for name, text in result.logs.items() if name.endswith("stderr")]
    assert any("partner process ended" in text for text in stderr)


def test_a_test_that_cannot_take_turns_says_so_and_runs_sequential_rounds(host, tmp_path, capsys):
    script = tmp_path / "plain.py"
    line = {"type": "NET", "metric": "latency", "unit": "us", "values": [1.0, 1.2]}
    script.write_text(f"print('AIPEP ' + {json.dumps(line)!r})\n")
    command = f"{{program}} {script}"
    spec = {
        "model": {"name": "plain", "format": "generic"},
        "tests": [
            {"identifier": "t", "metric": "delay", "iter": 2, "min_rounds": 5, "max_rounds": 5,
             "round_design": "alternating", "commands": [command]}
        ],
    }  # fmt: skip
    test = parse_spec(spec, tmp_path / "spec.json").tests[0]
    runner = ArmRunner(get_framework("generic"), host, test, {}, timeout=PROGRAM_TIMEOUT_S)
    result = run_ab(runner, Arm("treatment", sys.executable), Arm("control", sys.executable), {}, progress=sys.stderr)
    assert result.ok, result.failure
    assert result.meta["round_design"] == "sequential"
    note = "round_design alternating: the generic framework's program cannot take turns; running sequential rounds"
    assert result.meta["round_design_note"] == note
    assert f"harness: {note}" in capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"commands": ["{program} bench.py"]}, "the test runs its own commands"),
        ({"cold_start": True}, "a load scenario or cold start runs no timed loop"),
        ({"metric": "error"}, "metric error is not timed iteration by iteration"),
    ],
)
def test_what_keeps_a_framework_that_takes_turns_from_taking_them(tmp_path, fields, reason):
    assert get_framework("onnxruntime").why_no_turns(convnet_test(tmp_path, **fields)) == reason
    assert get_framework("onnxruntime").why_no_turns(convnet_test(tmp_path)) is None


def test_docker_runs_say_so_and_run_sequential_rounds(host, tmp_path, tiny_convnet):
    test = convnet_test(tmp_path, constraints={"runner": "docker", "image": "aipep-test:1"})
    runner = ArmRunner(get_framework("onnxruntime"), host, test, {"model": str(tiny_convnet)})
    assert why_not_alternating(runner) == (
        "round_design alternating: the docker runner gives each process a file system of its own, "
        "with no pipe to share; running sequential rounds"
    )


def turn_program(tmp_path: Path, *flags: str, iterations: int = 3) -> list[str]:
    """A process that takes its turns through turn_taking.py and logs its name in each."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(PARTS)!r})
        import argparse, turn_taking
        parser = argparse.ArgumentParser()
        parser.add_argument("name")
        turn_taking.add_turn_arguments(parser)
        args = parser.parse_args()
        try:
            turns = turn_taking.turns_from_args(args, SystemExit)
            for _ in range(2):
                with turns.timed_pass():
                    for _ in range({iterations}):
                        with turns.turn():
                            with open({str(tmp_path / "log")!r}, "a") as log:
                                log.write(args.name)
        except turn_taking.TurnError as exc:
            print(exc, file=sys.stderr)
            sys.exit(1)
        """
    )
    return [sys.executable, "-c", code, *flags]


def test_two_processes_alternate_through_both_passes(tmp_path):
    fifos = tmp_path / "a", tmp_path / "b"
    second = subprocess.Popen(turn_program(tmp_path, "S", "--turn_fifos", f"{fifos[1]},{fifos[0]}"))
    first = subprocess.run(
        turn_program(tmp_path, "F", "--turn_fifos", f"{fifos[0]},{fifos[1]}", "--turn_first"), timeout=PROGRAM_TIMEOUT_S
    )
    assert second.wait(timeout=PROGRAM_TIMEOUT_S) == 0 and first.returncode == 0
    assert (tmp_path / "log").read_text() == "FS" * 6


def test_a_partner_that_never_comes_ends_the_wait_at_the_deadline_in_one_line(tmp_path):
    flags = ["--turn_fifos", f"{tmp_path / 'a'},{tmp_path / 'b'}", "--turn_first", "--turn_deadline", "0.2"]
    done = subprocess.run(turn_program(tmp_path, "F", *flags), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "the partner process handed over no turn within 0.2 s\n"
    assert not (tmp_path / "log").exists()


def test_a_turn_pipe_path_that_is_a_plain_file_is_a_usage_error_in_one_line(tmp_path, tiny_convnet):
    (tmp_path / "a").write_text("not a pipe")
    flags = TurnPipes(str(tmp_path / "a"), str(tmp_path / "b"), True, 5).flags()
    done = subprocess.run(
        [sys.executable, str(BENCH_PROGRAM), "--model", str(tiny_convnet), "--iter", "1", *flags],
        capture_output=True,
        text=True,
        timeout=PROGRAM_TIMEOUT_S,
    )
    assert done.returncode == 2
    assert done.stderr == f"bench_program.py: error: --turn_fifos {tmp_path / 'a'}: exists and is no named pipe\n"


@pytest.mark.skipif(not SSHD.exists(), reason=f"{SSHD} is missing: apt-get install -y openssh-server")
def test_alternating_rounds_over_ssh(tmp_path, tiny_convnet, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    server = start_sshd(tmp_path / "sshd")
    board = get_platform("ssh", **server.options(remote_dir=str(tmp_path / "remote")))
    log = tmp_path / "turns.log"
    treatment, control = launcher(tmp_path / "t", "T", log), launcher(tmp_path / "c", "C", log)
    try:
        board.prepare()
        result = run_rounds(board, convnet_test(tmp_path, operators=False), tiny_convnet, treatment, control)
        assert_alternating(result, log, passes=1)
    finally:
        board.close()
        server.stop()
