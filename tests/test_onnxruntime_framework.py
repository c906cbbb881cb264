"""The onnxruntime framework: commands composed from real specs, run as real processes, parsed."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from aipep_core.errors import UserError
from aipep_core.spec import load_benchmarks
from frameworks import get_framework
from frameworks.base import CommandContext
from frameworks.onnxruntime import bench_program
from frameworks.onnxruntime.framework import BENCH_PROGRAM, input_flags
from harness.generated_models import generate_model
from harness.output_error import OUTPUT_FILE, read_outputs
from platforms.host import run_process
from tests.virtualenvs import make_virtualenv

REPO = Path(__file__).resolve().parents[1]
TINY_SPEC = REPO / "specifications" / "models" / "onnxruntime" / "tiny_convnet" / "tiny_convnet.json"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    # Spaces and shell syntax in the path: it must reach the program as one argument.
    path = tmp_path_factory.mktemp("models") / "tiny net; echo pwned" / "tiny_convnet.onnx"
    path.parent.mkdir()
    generate_model("tiny_convnet.onnx", path)
    return path


@pytest.fixture(scope="module")
def dynamic_model(tmp_path_factory) -> Path:
    """Relu on a [batch, 4] input: its output shape shows which input shape was fed."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name="Relu_only")],
        "dynamic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("models") / "dynamic.onnx"
    onnx.save(model, path)
    return path


def spec_file(tmp_path: Path, test: dict) -> Path:
    document = {
        "model": {"name": "m", "format": "onnxruntime", "files": {"model": {"filename": "m.onnx", "location": "x"}}},
        "tests": [{"identifier": "t", "metric": "delay", **test}],
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(document))
    return path


def compose(spec: Path, model: Path) -> list[str]:
    (benchmark,) = load_benchmarks(spec)
    context = CommandContext(program=sys.executable, files={"model": str(model)})
    (argv,) = get_framework("onnxruntime").compose(benchmark.tests[0], context)
    return argv


def run(argv: list[str], **kwargs):
    result = run_process(argv, timeout=120, **kwargs)
    assert not result.timed_out
    return result


def samples_by_key(stdout: str) -> dict:
    return {sample.type: sample for sample in get_framework("onnxruntime").parse(stdout)}


def op_types(stdout: str) -> dict[str, str]:
    lines = [json.loads(line.split(" ", 1)[1]) for line in stdout.splitlines() if line.startswith("AIPEP ")]
    return {line["type"]: line.get("op_type") for line in lines}


def test_framework_is_registered_with_the_interpreter_as_program():
    framework = get_framework("onnxruntime")
    assert framework.name == "onnxruntime"
    assert framework.default_program() == sys.executable


def test_tiny_spec_reports_net_and_every_executed_node(tiny_model):
    (benchmark,) = load_benchmarks(TINY_SPEC)
    test = benchmark.tests[0]
    argv = compose(TINY_SPEC, tiny_model)
    assert argv[:2] == [sys.executable, str(BENCH_PROGRAM)]
    result = run(argv)
    assert result.returncode == 0, result.stderr
    samples = samples_by_key(result.stdout)
    assert len(samples["NET"].values) == test.iter == 50
    assert all(value > 0 for value in samples["NET"].values)
    nodes = {name: sample for name, sample in samples.items() if name != "NET"}
    kinds = op_types(result.stdout)
    assert {"Conv", "MaxPool", "Gemm", "Softmax"} <= set(kinds.values())
    for name, sample in nodes.items():
        assert (sample.metric, sample.unit) == ("latency", "us")
        assert len(sample.values) == test.iter
        # The profiler counts whole microseconds: a trivial node may read 0 in some runs, never below.
        assert min(sample.values) >= 0 and max(sample.values) > 0
        if kinds[name] == "Conv":
            assert min(sample.values) > 0


def test_without_graph_rewrites_every_graph_node_is_reported_under_its_own_name(tiny_model, tmp_path):
    argv = compose(spec_file(tmp_path, {"iter": 7, "warmup": 2, "graph_optimization": "disable"}), tiny_model)
    result = run(argv)
    assert result.returncode == 0, result.stderr
    graph = {node.name: node.op_type for node in onnx.load(tiny_model).graph.node}
    reported = op_types(result.stdout)
    assert reported == {"NET": None, **graph}
    for sample in samples_by_key(result.stdout).values():
        assert len(sample.values) == 7


def test_no_operators_reports_only_the_network_and_profile_files_are_removed(tiny_model, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    argv = compose(spec_file(tmp_path, {"iter": 3, "operators": False}), tiny_model)
    assert argv[-1] == "--no_operators"
    # Without the operator pass NET has one pass already, whether or not it was asked into the other.
    shared = compose(spec_file(tmp_path, {"iter": 3, "operators": False, "net_in_operator_pass": True}), tiny_model)
    assert shared == argv
    result = run(argv, env={"TMPDIR": str(scratch)})
    assert result.returncode == 0, result.stderr
    assert list(samples_by_key(result.stdout)) == ["NET"]
    result = run(argv[:-1], env={"TMPDIR": str(scratch)}, cwd=str(scratch))
    assert result.returncode == 0, result.stderr
    assert len(samples_by_key(result.stdout)) > 1
    # (onnxruntime itself leaves a small `.ses` file in TMPDIR on import; that is not ours.)
    assert not [path for path in scratch.rglob("*") if "profile" in path.name or path.suffix == ".json"]


@pytest.mark.parametrize(
    ("inputs", "expected_shape"), [({"x": {"shapes": [[3, 4]], "type": "float"}}, [3, 4]), ({}, [1, 4])]
)
def test_spec_input_shapes_are_fed_and_dynamic_dims_default_to_one(inputs, expected_shape, dynamic_model, tmp_path):
    argv = compose(spec_file(tmp_path, {"iter": 2, "inputs": inputs}), dynamic_model)
    outputs_file = tmp_path / "outputs.json"
    result = run([*argv, "--output", str(outputs_file)])
    assert result.returncode == 0, result.stderr
    outputs = json.loads(outputs_file.read_text())
    assert outputs["y"]["shape"] == expected_shape
    # The feed is the seeded one: the same values an in-process session computes from make_inputs.
    session = ort.InferenceSession(str(dynamic_model), providers=["CPUExecutionProvider"])
    requested = [bench_program.InputSpec("x", tuple(expected_shape), "float32")]
    (expected,) = session.run(None, bench_program.make_inputs(session, requested))
    np.testing.assert_array_equal(np.array(outputs["y"]["values"], dtype=np.float32), expected.ravel())


def test_error_tests_write_the_outputs_where_the_harness_reads_them(tiny_model, tmp_path):
    (benchmark,) = load_benchmarks(spec_file(tmp_path, {"metric": "error", "iter": 1}))
    output_file = tmp_path / OUTPUT_FILE
    context = CommandContext(
        program=sys.executable, files={"model": str(tiny_model)}, extra={"output_file": str(output_file)}
    )
    (argv,) = get_framework("onnxruntime").compose(benchmark.tests[0], context)
    result = run(argv)
    assert result.returncode == 0, result.stderr
    assert list(samples_by_key(result.stdout)) == ["NET"]
    (probabilities,) = read_outputs(output_file).values()
    assert probabilities.shape == (1, 10)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_identifiers_form_of_inputs_becomes_one_flag_per_name():
    spec_inputs = {"pair": {"identifiers": ["a", "b:0"], "shapes": [[1, 2], [3]], "type": "int64"}}
    assert input_flags(spec_inputs, "tests[0].inputs") == ["--input", "a:1,2:int64", "--input", "b:0:3:int64"]
    assert bench_program.parse_input_flag("b:0:3:int64") == bench_program.InputSpec("b:0", (3,), "int64")


@pytest.mark.parametrize(
    ("test", "field"),
    [
        ({"inputs": {"x": {"shapes": [3, 4], "type": "float"}}}, "tests[0].inputs.x.shapes"),
        ({"inputs": {"x": {"shapes": [[3, 4]], "type": "complex"}}}, "tests[0].inputs.x.type"),
        ({"inputs": {"x": [3, 4]}}, "tests[0].inputs.x"),
        ({"graph_optimization": "max"}, "tests[0].graph_optimization"),
        ({"net_in_operator_pass": "yes"}, "tests[0].net_in_operator_pass"),
    ],
)
def test_bad_spec_fields_are_refused_before_anything_runs(test, field, tmp_path, dynamic_model):
    with pytest.raises(UserError) as refused:
        compose(spec_file(tmp_path, {"iter": 1, **test}), dynamic_model)
    assert str(refused.value).startswith(f"spec.json: {field}: expected")


def test_placeholders_from_the_spec_stay_single_arguments(tiny_model, tmp_path):
    command = f"{{program}} {shlex.quote(str(BENCH_PROGRAM))} --model {{files.model}} --iter {{iter}} --provider {{ep}}"
    spec = spec_file(tmp_path, {"iter": 2, "ep": "CPUExecutionProvider; echo pwned", "commands": [command]})
    argv = compose(spec, tiny_model)
    assert argv[argv.index("--model") + 1] == str(tiny_model)
    assert argv[argv.index("--provider") + 1] == "CPUExecutionProvider; echo pwned"
    result = run(argv)
    # The whole value reached the program as one provider name, which it refuses; no shell ever saw it.
    assert result.returncode == 2
    assert "--provider CPUExecutionProvider; echo pwned: not available" in result.stderr
    assert "pwned" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--iter", "3", "--bogus"], "unrecognized arguments: --bogus"),
        (["--iter", "0"], "--iter"),
        (["--input", "x:1,a:float"], "--input x:1,a:float"),
        (["--input", "nope:1:float"], "--input nope: the model has no such input"),
        (["--no_operators", "--net_in_operator_pass"], "--net_in_operator_pass: there is no operator pass"),
    ],
)
def test_bad_flags_exit_2_with_one_line(args, message, dynamic_model):
    result = run([sys.executable, str(BENCH_PROGRAM), "--model", str(dynamic_model), *args])
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr


def test_missing_model_exits_2_naming_the_file(tmp_path):
    missing = tmp_path / "absent.onnx"
    result = run([sys.executable, str(BENCH_PROGRAM), "--model", str(missing), "--iter", "1"])
    assert result.returncode == 2
    assert result.stderr.strip() == f"bench_program.py: error: --model {missing}: file not found"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        # One session: the profiled operator pass warms it, then NET is timed with the profiler ended.
        ([], [("load", True), *[("run", True)] * 5, ("end",), *[("run", False)] * 3]),
        (["--no_operators"], [("load", False), *[("run", False)] * 5]),
        # A cold start is timed without the profiler, whether or not operators follow.
        (
            ["--cold_start"],
            [("load", False), ("run", False), ("load", True), *[("run", True)] * 5, ("end",), *[("run", False)] * 3],
        ),
    ],
)
def test_net_is_timed_with_the_profiler_off_in_the_session_the_operator_pass_warmed(
    flags, expected, session_events, tiny_model, capsys
):
    assert bench_program.main(["--model", str(tiny_model), "--warmup", "2", "--iter", "3", *flags]) == 0
    assert session_events == expected
    net = samples_by_key(capsys.readouterr().out)["NET"]
    assert len(net.values) == 3


def test_net_in_the_operator_pass_times_the_profiled_runs_and_runs_no_second_pass(
    session_events, tiny_model, tmp_path, capsys
):
    argv = compose(spec_file(tmp_path, {"warmup": 2, "iter": 3, "net_in_operator_pass": True}), tiny_model)
    assert argv[-1] == "--net_in_operator_pass"
    assert bench_program.main(argv[2:]) == 0
    assert session_events == [("load", True), *[("run", True)] * 5, ("end",)]
    samples = samples_by_key(capsys.readouterr().out)
    assert len(samples) > 1
    assert all(len(sample.values) == 3 for sample in samples.values())
    # NET is the whole timed run, so each of its iterations holds at least the operators of that run.
    operators = [sample.values for key, sample in samples.items() if key != "NET"]
    for index, net in enumerate(samples["NET"].values):
        assert net >= sum(values[index] for values in operators)


@pytest.fixture
def session_events(monkeypatch) -> list[tuple]:
    """What the bench program asks of its onnxruntime sessions, in order: loads (profiled or not),
    runs (with the profiler on or off) and the end of profiling."""
    events: list[tuple] = []

    class RecordingSession(ort.InferenceSession):
        def __init__(self, path, options, **kwargs):
            super().__init__(path, options, **kwargs)
            self.profiling = options.enable_profiling
            events.append(("load", self.profiling))

        def run(self, *args, **kwargs):
            events.append(("run", self.profiling))
            return super().run(*args, **kwargs)

        def end_profiling(self):
            self.profiling = False
            events.append(("end",))
            return super().end_profiling()

    monkeypatch.setattr(ort, "InferenceSession", RecordingSession)
    return events


def test_profile_events_are_summed_per_node_and_run_and_warmup_runs_dropped():
    def run_event(ts, dur):
        return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur}

    def kernel(name, index, op, ts, dur):
        args = {"op_name": op, "node_index": str(index)}
        return {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur, "args": args}

    profile = [run_event(0, 100), kernel("A", 0, "Conv", 10, 99)]  # the warmup run
    for start in (200, 400):
        profile += [
            run_event(start, 100),
            kernel("A", 0, "Conv", start + 10, 5),
            {"cat": "Node", "name": "A_fence_before", "ts": start + 9, "dur": 1, "args": {}},
            kernel("", 1, "Relu", start + 20, 1),
            kernel("NET", 2, "Add", start + 30, 2),
            kernel("dup", 3, "Mul", start + 40, 3),
            kernel("dup", 4, "Mul", start + 50, 4),
            kernel("loop_body", 5, "Add", start + 60, 2),
            kernel("loop_body", 5, "Add", start + 70, 3),
        ]
    times = bench_program.node_times(profile, iterations=2)
    assert {name: (t.op_type, t.values) for name, t in times.items()} == {
        "A": ("Conv", [5.0, 5.0]),
        "Relu#1": ("Relu", [1.0, 1.0]),
        "NET#2": ("Add", [2.0, 2.0]),
        "dup#3": ("Mul", [3.0, 3.0]),
        "dup#4": ("Mul", [4.0, 4.0]),
        "loop_body": ("Add", [5.0, 5.0]),
    }


def test_an_ab_of_two_virtualenvs_records_what_each_interpreter_imports(tmp_path):
    """Two environments are two arms: each arm's onnxruntime is asked of its own interpreter."""
    from harness.cli import main
    from harness.store.result_store import ResultStore

    other = make_virtualenv(tmp_path / "venv")
    spec = TINY_SPEC
    info = {"treatment": {"program": str(other), "commit": "venv"}, "control": {"program": sys.executable}}
    status = main(["-b", str(spec), "--info", json.dumps(info), "--max_rounds", "8", "--min_rounds", "8",
                   "--db", str(tmp_path / "aipep.db"), "--model_cache", str(tmp_path / "models")])  # fmt: skip
    assert status == 0
    with ResultStore(tmp_path / "aipep.db") as store:
        (result,) = store.find_runs(model="tiny_convnet", include_logs=True)
    assert result.meta["program"] == str(other) and result.meta["control_program"] == sys.executable
    for name in ("program_versions", "control_program_versions"):
        assert result.meta[name]["onnxruntime"] == ort.__version__
        assert result.meta[name]["numpy"] == np.__version__
    assert result.data["NET latency"].comparison.rounds == 8
    assert result.logs["round0_treatment.command"].startswith(f"{other} ")
    assert result.logs["round0_control.command"].startswith(f"{sys.executable} ")


def test_a_version_probe_that_fails_is_recorded_not_fatal(tmp_path):
    from aipep_core.job import Arm
    from harness.arm import ArmRunner
    from harness.program_versions import PROBE_FAILED, program_versions
    from platforms import get_platform

    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'no interpreter here' >&2\nexit 3\n")
    broken.chmod(0o755)
    (benchmark,) = load_benchmarks(TINY_SPEC)
    host = get_platform("host")
    try:
        runner = ArmRunner(get_framework("onnxruntime"), host, benchmark.tests[0], {})
        found = program_versions(runner, Arm("treatment", str(broken), "c1"))
    finally:
        host.close()
    assert found == {PROBE_FAILED: "exited with status 3; stderr tail:\nno interpreter here"}
