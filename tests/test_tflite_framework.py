"""tflite: generated models in a real interpreter, the compose/run/parse path, and benchmark_model output."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert.interpreter")

from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from aipep_core.spec import load_benchmarks  # noqa: E402
from frameworks import get_framework  # noqa: E402
from frameworks.base import CommandContext  # noqa: E402
from frameworks.observer_lines import OutputParseError  # noqa: E402
from frameworks.tflite.benchmark_model_output import parse_benchmark_model_output  # noqa: E402
from harness.generated_models import tflite_models  # noqa: E402
from platforms.host import run_process  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).with_name("data") / "tflite"
SPECS = ROOT / "specifications" / "models" / "tflite"
OP_PROFILING = (DATA / "benchmark_model_op_profiling.txt").read_text()
OP_PROFILING_TF2 = (DATA / "benchmark_model_op_profiling_tf2.txt").read_text()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tflite") / "tiny_convnet.tflite"
    tflite_models.write_tiny_convnet(path)
    return path


def _run_once(model_bytes: bytes, shape: tuple[int, ...]) -> np.ndarray:
    interpreter = Interpreter(model_content=model_bytes, num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    assert tuple(detail["shape"]) == shape
    interpreter.set_tensor(detail["index"], np.random.default_rng(1).random(shape, dtype=np.float32))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_tiny_convnet_runs_and_outputs_a_distribution():
    output = _run_once(tflite_models.tiny_convnet_bytes(), (1, 16, 16, 3))
    assert output.shape == (1, 10)
    assert np.all(output >= 0) and abs(float(output.sum()) - 1.0) < 1e-5


def test_mobilenet_v1_runs_and_outputs_a_distribution():
    model = tflite_models.mobilenet_v1_bytes()
    operators = Interpreter(model_content=model)._get_ops_details()
    assert [op["op_name"] for op in operators[-3:]] == ["AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"]
    assert sum(op["op_name"] == "DEPTHWISE_CONV_2D" for op in operators) == 13
    output = _run_once(model, (1, 224, 224, 3))
    assert output.shape == (1, 1000)
    assert abs(float(output.sum()) - 1.0) < 1e-5


def test_generated_bytes_are_deterministic_and_match_the_spec_md5():
    import hashlib

    assert tflite_models.tiny_convnet_bytes() == tflite_models.tiny_convnet_bytes()
    spec = load_benchmarks(str(SPECS / "tiny_convnet" / "tiny_convnet.json"))[0]
    assert hashlib.md5(tflite_models.tiny_convnet_bytes()).hexdigest() == spec.model.files["graph"].md5


def _compose(spec_path: Path, program: str, model: Path) -> list[list[str]]:
    test = load_benchmarks(str(spec_path))[0].tests[0]
    return get_framework("tflite").compose(test, CommandContext(program=program, files={"graph": str(model)}))


def test_interpreter_program_compose_run_parse(tiny_model):
    framework = get_framework("tflite")
    [argv] = _compose(SPECS / "tiny_convnet" / "tiny_convnet.json", framework.default_program(), tiny_model)
    result = run_process(argv, timeout=60)
    assert result.returncode == 0, result.stderr
    [net] = framework.parse(result.stdout, result.stderr)
    assert net.key == "NET latency" and net.unit == "us" and len(net.values) == 50
    assert all(value > 0 for value in net.values) and not net.from_tool_summary


def test_bench_program_refuses_an_unknown_input(tiny_model):
    argv = [sys.executable, str(ROOT / "frameworks/tflite/bench_program.py"), "--model", str(tiny_model)]
    result = run_process([*argv, "--input", "nope:1,2:float"], timeout=60)
    assert result.returncode == 2 and "nope" in result.stderr


def test_benchmark_model_command_runs_unchanged_and_is_parsed(tiny_model):
    replay = str(DATA / "replay_benchmark_model.py")
    [argv] = _compose(SPECS / "tiny_convnet" / "tiny_convnet_benchmark_model.json", replay, tiny_model)
    assert argv[1:4] == [f"--graph={tiny_model}", "--warmup_runs=5", "--num_runs=30"]
    result = run_process([sys.executable, *argv], timeout=60)
    samples = {s.key: s for s in get_framework("tflite").parse(result.stdout, result.stderr)}
    assert samples["NET latency"].values == (85201.7,) and samples["NET latency"].from_tool_summary


def test_parser_reads_net_and_operator_table():
    samples = {s.key: s for s in parse_benchmark_model_output(OP_PROFILING)}
    assert samples["NET latency"].values == (85201.7,)
    assert samples["Conv2d_0/Relu6 latency"].values == (pytest.approx(3401.0),)
    assert samples["Predictions latency"].unit == "us" and samples["Predictions latency"].from_tool_summary
    assert "AllocateTensors/0 latency" not in samples and "Conv2d_1_pointwise/Relu6 latency" in samples
    assert len(samples) == 7
    assert samples["Conv2d_0/Relu6 latency"].op_type == "CONV_2D"
    assert samples["NET latency"].op_type == ""


def test_parser_takes_columns_by_name_in_the_tf2_layout_with_a_start_column():
    """TF 2.x tables put `[start]` before `[first]`: the value must still be `[avg ms]`, and the name clean.

    The fixture is hand-written in that release's layout (see tests/data/tflite/README.md).
    """
    samples = {s.key: s for s in parse_benchmark_model_output(OP_PROFILING_TF2)}
    assert samples["NET latency"].values == (3362.41,)
    conv = samples["MobilenetV1/MobilenetV1/Conv2d_0/Relu6 latency"]
    assert conv.values == (pytest.approx(911.0),) and conv.op_type == "CONV_2D"
    assert samples["MobilenetV1/Predictions/Reshape_1 latency"].values == (pytest.approx(12.0),)
    assert len(samples) == 8


def test_parser_reads_a_space_separated_table_by_its_header():
    """Some builds pad the table with spaces instead of tabs; the header still says where `[avg ms]` is."""
    spaced = OP_PROFILING.replace("\t", " ")
    samples = {s.key: s for s in parse_benchmark_model_output(spaced)}
    assert samples["Conv2d_0/Relu6 latency"].values == (pytest.approx(3401.0),)


@pytest.mark.parametrize(
    "header",
    [
        "[node type]\t[first]\t[median ms]\t[%]\t[cdf%]\t[mem KB]\t[times called]\t[Name]",
        "[node type]\t[first]\t[avg ms]\t[%]\t[cdf%]\t[mem KB]\t[times called]",
        "[node type]\t[first]\t[avg ms]\t[%]\t[cdf%]\t[mem KB]\t[Name]\t[times called]",
    ],
)
def test_parser_refuses_an_operator_table_layout_it_cannot_map(header):
    lines = OP_PROFILING.splitlines()
    table = lines.index("INFO: Operator-wise Profiling Info for Regular Benchmark Runs:") + 2
    lines[table] = "\t" + header
    with pytest.raises(OutputParseError, match=r"operator table header") as raised:
        parse_benchmark_model_output("\n".join(lines) + "\n")
    assert "\n" not in str(raised.value)


def test_parser_reads_output_without_op_profiling():
    text = OP_PROFILING.split("INFO: Note:")[0]
    assert [s.key for s in parse_benchmark_model_output(text)] == ["NET latency"]


@pytest.mark.parametrize(
    "text, message",
    [
        (OP_PROFILING.split("INFO: Running benchmark for at least 30")[0], "truncated"),
        (OP_PROFILING.split("[Logits]:4")[0], "cut off"),
        (OP_PROFILING.replace("Inference (avg): 85201.7", "Inference (avg): 8x5"), "not a number"),
        (OP_PROFILING.replace("0.098", "n/a"), "not a number"),
        ("", "truncated"),
    ],
)
def test_parser_refuses_truncated_or_garbled_output(text, message):
    with pytest.raises(OutputParseError, match=message):
        parse_benchmark_model_output(text)


def test_litert_benchmark_tool_output_is_not_benchmark_model_format():
    """The LiteRT wheel's own tool prints a different table; it must fail loudly, not parse as zero."""
    with pytest.raises(OutputParseError):
        get_framework("tflite").parse((DATA / "benchmark_litert_model_tiny.txt").read_text())


def test_only_the_interpreter_program_is_asked_its_runtime_versions():
    framework = get_framework("tflite")
    interpreter_test = load_benchmarks(str(SPECS / "tiny_convnet" / "tiny_convnet.json"))[0].tests[0]
    tool_test = load_benchmarks(str(SPECS / "tiny_convnet" / "tiny_convnet_benchmark_model.json"))[0].tests[0]
    probe = framework.version_probe(interpreter_test, sys.executable)
    found = run_process(probe, timeout=60)
    assert found.ok, found.stderr
    assert '"ai-edge-litert"' in found.stdout and '"numpy"' in found.stdout
    assert framework.version_probe(tool_test, "/opt/tools/benchmark_model") is None
    assert get_framework("microkernel").version_probe(interpreter_test, sys.executable) is None
