"""The harness and run_bench.py as a user runs them: real processes, real files, real SQLite."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.store.result_store import ResultStore
from tests.shipped_specs import ALTERNATING_SPEC, MICROKERNEL_SPEC
from tests.virtualenvs import make_virtualenv

REPO = Path(__file__).resolve().parent.parent
MOBILENET_SPEC = REPO / "specifications/models/onnxruntime/mobilenet_v1/mobilenet_v1.json"
TFLITE_MOBILENET_SPEC = REPO / "specifications/models/tflite/mobilenet_v1/mobilenet_v1.json"


def harness(tmp_path, *args):
    return main(["--db", str(tmp_path / "aipep.db"), "--model_cache", str(tmp_path / "models"), *args])


def info(treatment, control=None):
    document = {"treatment": {"program": str(treatment), "commit": "new", "commit_time": 2}}
    if control is not None:
        document["control"] = {"program": str(control), "commit": "old", "commit_time": 1}
    return json.dumps(document)


def test_single_run_reaches_every_reporter(tmp_path, build_microkernel, capsys):
    status = harness(
        tmp_path,
        "-b", str(MICROKERNEL_SPEC),
        "--info", info(build_microkernel()),
        "--simple_screen_reporter",
        "--local_reporter", str(tmp_path / "local"),
    )  # fmt: skip
    assert status == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    result = json.loads(line)
    assert result["meta"]["framework"] == "microkernel"
    assert result["meta"]["command"][1:] == ["--warmup", "2", "--iter", "20"]
    net = result["data"]["NET latency"]
    assert net["num_runs"] == 20 and set(net["summary"]) >= {"p10", "p50", "p90", "MAD", "cv"}
    written = list((tmp_path / "local").rglob("result.json"))
    assert [p.relative_to(tmp_path / "local").parts[:4] for p in written] == [
        ("host", "microkernel", "microkernel_default", "2_new")
    ]
    with ResultStore(tmp_path / "aipep.db") as store:
        (stored,) = store.find_runs(model="microkernel")
    assert stored.id == result["id"]
    assert stored.data["Conv latency"].values == result["data"]["Conv latency"]["values"]


def test_ab_regression_exits_3_with_fail_on_regression(tmp_path, build_microkernel, capsys):
    """Conv +40% in alternating rounds. Sequential rounds under a bursty load on a 2-vCPU VM left
    it inconclusive after 40 rounds in 3 of 15 runs (one failed a clean-clone CI run): a process
    that runs at half speed reverses a round; taking turns, 9 of 9 flagged it."""
    status = harness(
        tmp_path,
        "-b", str(ALTERNATING_SPEC),
        "--info", info(build_microkernel("-DCONV_UNITS=140"), build_microkernel()),
        "--screen_reporter",
        "--fail_on_regression",
    )  # fmt: skip
    assert status == 3
    output = capsys.readouterr().out
    assert "regression" in output and "Conv" in output
    with ResultStore(tmp_path / "aipep.db") as store:
        (stored,) = store.find_runs(model="microkernel")
    assert stored.meta["control_commit"] == "old"
    assert stored.data["Conv latency"].comparison.verdict == "regression"


def test_invalid_spec_is_one_line_and_status_2(tmp_path, capsys):
    spec = tmp_path / "mobilenet_v1.json"
    spec.write_text(json.dumps({"model": {"name": "m", "format": "generic"}, "tests": [
        {"identifier": "t", "metric": "delay", "iter": "ten"}]}))  # fmt: skip
    assert harness(tmp_path, "-b", str(spec)) == 2
    err = capsys.readouterr().err
    assert err == 'harness: error: mobilenet_v1.json: tests[0].iter: expected an integer >= 1, got "ten"\n'
    assert not (tmp_path / "aipep.db").exists() or not ResultStore(tmp_path / "aipep.db").find_runs()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--framework", "nope"], "--framework: unknown framework 'nope'"),
        (["-p", "mars"], "--platform: unknown platform 'mars'"),
        (["--info", "{bad"], "--info: expected JSON"),
        (["--max_rounds", "3", "--min_rounds", "5"], "--max_rounds"),
        (["--no_such_flag"], "command line: unrecognized arguments"),
    ],
)
def test_user_mistakes_are_one_line(tmp_path, capsys, args, fragment, build_microkernel):
    assert harness(tmp_path, "-b", str(MICROKERNEL_SPEC), "--info", info(build_microkernel()), *args) == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert err.count("\n") == 1


def write_generic_spec(tmp_path, command):
    spec = tmp_path / "spec.json"
    test = {"identifier": "t", "metric": "delay", "iter": 1, "commands": [command]}
    spec.write_text(json.dumps({"model": {"name": "scripted", "format": "generic"}, "tests": [test]}))
    return spec


@pytest.mark.parametrize(
    ("code", "timeout", "expected"),
    [
        ("import sys; print('segfault-ish', file=sys.stderr); sys.exit(139)", "60", "exited with status 139"),
        ("import time; time.sleep(60)", "1", "timed out after"),
        ("print('no measurements here')", "60", "printed no measurements"),
        ('print(\'AIPEP {"type": "NET", "metric"\')', "60", "not valid JSON"),
    ],
)
def test_failing_program_is_recorded_with_logs_and_status_1(tmp_path, capsys, code, timeout, expected):
    spec = write_generic_spec(tmp_path, f"{{program}} -c {json.dumps(code)}")
    status = harness(tmp_path, "-b", str(spec), "--info", info(sys.executable), "--timeout", timeout)
    assert status == 1
    assert expected in capsys.readouterr().err
    with ResultStore(tmp_path / "aipep.db") as store:
        (stored,) = store.find_runs(model="scripted", include_logs=True)
    assert stored.status == "failure" and expected in stored.failure
    assert any(name.endswith(".stderr") for name in stored.logs)


def run_bench(tmp_path, *args, stdin=None, python=sys.executable):
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    return subprocess.run(
        [str(python), str(REPO / "run_bench.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def test_quick_start_mobilenet_runs_and_is_stored(tmp_path):
    done = run_bench(tmp_path, "-b", str(MOBILENET_SPEC))
    assert done.returncode == 0, done.stderr
    assert "NET" in done.stdout and "share" in done.stdout
    assert "Conv" in done.stdout
    with ResultStore(tmp_path / "data" / "aipep" / "aipep.db") as store:
        (stored,) = store.find_runs(model="mobilenet_v1")
    net = stored.data["NET latency"]
    assert net.num_runs == 30
    operators = [key for key in stored.data if key != "NET latency"]
    assert len(operators) > 20
    # The shipped spec times NET in the profiled operator pass: one pass of 30 iterations per process.
    assert "--net_in_operator_pass" in stored.meta["command"]
    assert not (tmp_path / "config" / "aipep" / "run_bench.json").exists()


@pytest.mark.parametrize("spec", [MOBILENET_SPEC, TFLITE_MOBILENET_SPEC], ids=["onnxruntime", "tflite"])
def test_quick_start_in_a_symlinked_virtualenv_runs_the_bench_program_under_that_virtualenv(tmp_path, spec):
    """A virtualenv's python is a symlink to the base interpreter, which lacks the virtualenv's packages."""
    python = make_virtualenv(tmp_path / "venv")
    done = run_bench(tmp_path, "-b", str(spec), python=python)
    assert done.returncode == 0, done.stderr
    with ResultStore(tmp_path / "data" / "aipep" / "aipep.db") as store:
        (stored,) = store.find_runs(model="mobilenet_v1")
    assert stored.meta["command"][0] == str(python)
    assert stored.meta["program"] == str(python)


def test_run_bench_saved_options_and_pass_through(tmp_path, build_microkernel):
    options = tmp_path / "config" / "aipep" / "run_bench.json"
    options.parent.mkdir(parents=True)
    options.write_text(json.dumps({"--db": str(tmp_path / "chosen.db"), "--screen_reporter": False}))
    done = run_bench(tmp_path, "-b", str(MICROKERNEL_SPEC), "--info", info(build_microkernel()),
                     "--simple_screen_reporter")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["meta"]["model"] == "microkernel"
    with ResultStore(tmp_path / "chosen.db") as store:
        assert len(store.find_runs()) == 1


def test_first_run_questions_are_saved_and_asked_again_on_reset(tmp_path, monkeypatch):
    import run_bench

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    answers = iter([str(tmp_path / "models"), "", "n", str(tmp_path / "out")])
    chosen = run_bench.load_options(reset=False, interactive=True, ask=lambda _: next(answers))
    assert chosen["--model_cache"] == str(tmp_path / "models")
    assert chosen["--screen_reporter"] is False
    assert chosen["--local_reporter"] == str(tmp_path / "out")

    def never(_):
        raise AssertionError("asked although options were saved")

    assert run_bench.load_options(reset=False, interactive=True, ask=never) == chosen
    again = iter(["", "", "", ""])
    reset = run_bench.load_options(reset=True, interactive=True, ask=lambda _: next(again))
    assert reset["--model_cache"] == run_bench.default_options()["--model_cache"]
    assert run_bench.harness_argv(reset, ["--db", "x.db"])[-2:] == ["--db", "x.db"]
    assert "--db" not in run_bench.harness_argv(reset, ["--db", "x.db"])[:-2]
