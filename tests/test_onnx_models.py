"""The generated ONNX reference models: same bytes every time, valid, and runnable by onnxruntime."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from harness.generated_models import available_models, generate_model
from harness.generated_models.onnx_models import MOBILENET_V1_BLOCKS

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "specifications" / "models" / "onnxruntime"
MODELS = {
    "tiny_convnet.onnx": ((1, 3, 32, 32), (1, 10), SPECS / "tiny_convnet" / "tiny_convnet.json"),
    "mobilenet_v1_1.0_224.onnx": ((1, 3, 224, 224), (1, 1000), SPECS / "mobilenet_v1" / "mobilenet_v1.json"),
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("models")
    paths = {}
    for name in MODELS:
        paths[name] = directory / name
        generate_model(name, paths[name])
    return paths


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_both_models_are_registered():
    assert {"tiny_convnet.onnx", "mobilenet_v1_1.0_224.onnx"} <= set(available_models())


@pytest.mark.parametrize("name", MODELS)
def test_generation_is_byte_for_byte_repeatable(name, generated, tmp_path):
    again = tmp_path / name
    generate_model(name, again)
    assert again.read_bytes() == generated[name].read_bytes()


@pytest.mark.parametrize("name", MODELS)
def test_spec_md5_matches_the_generated_bytes(name, generated):
    spec = json.loads(MODELS[name][2].read_text())
    (entry,) = spec["model"]["files"].values()
    assert entry["location"] == f"generated://{name}"
    assert entry["md5"] == md5(generated[name])


@pytest.mark.parametrize("name", MODELS)
def test_model_passes_the_checker_with_pinned_versions(name, generated):
    model = onnx.load(generated[name])
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert model.ir_version == 8
    names = [node.name for node in model.graph.node]
    assert all(names) and len(set(names)) == len(names)


@pytest.mark.parametrize("name", MODELS)
def test_onnxruntime_runs_it_to_a_probability_distribution(name, generated):
    input_shape, output_shape, _ = MODELS[name]
    session = ort.InferenceSession(str(generated[name]), providers=["CPUExecutionProvider"])
    (declared,) = session.get_inputs()
    assert (declared.name, tuple(declared.shape)) == ("input", input_shape)
    image = np.random.default_rng(0).random(input_shape, dtype=np.float32)
    (probabilities,) = session.run(None, {"input": image})
    assert probabilities.shape == output_shape
    assert np.all(np.isfinite(probabilities)) and np.all(probabilities >= 0)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_mobilenet_has_the_papers_layer_plan(generated):
    model = onnx.load(generated["mobilenet_v1_1.0_224.onnx"])
    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    convs = [node for node in model.graph.node if node.op_type == "Conv"]
    assert len(convs) == 1 + 2 * len(MOBILENET_V1_BLOCKS) == 27

    def attribute(node, name):
        return next(onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name)

    assert weights[convs[0].input[1]].shape == (32, 3, 3, 3) and attribute(convs[0], "strides") == [2, 2]
    channels = 32
    for index, (out_channels, stride) in enumerate(MOBILENET_V1_BLOCKS):
        depthwise, pointwise = convs[1 + 2 * index], convs[2 + 2 * index]
        assert depthwise.name == f"DepthwiseConv_{index + 1}"
        assert attribute(depthwise, "group") == channels
        assert weights[depthwise.input[1]].shape == (channels, 1, 3, 3)
        assert attribute(depthwise, "strides") == [stride, stride]
        assert weights[pointwise.input[1]].shape == (out_channels, channels, 1, 1)
        channels = out_channels
    assert channels == 1024
    (gemm,) = [node for node in model.graph.node if node.op_type == "Gemm"]
    assert weights[gemm.input[1]].shape == (1000, 1024)
    assert sum(array.size for array in weights.values()) == pytest.approx(4.22e6, rel=0.01)
