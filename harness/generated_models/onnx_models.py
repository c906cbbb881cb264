"""ONNX reference models written with onnx.helper, byte for byte the same on every run.

No model hub is reachable from a build machine, so the reference networks are
generated: the layer shapes are the real ones (that is what decides the cost
of a run), the weights are random but seeded and He-scaled, so activations
stay in a sane range and the outputs are a proper probability distribution.
Producer, opset and IR version are pinned because they are part of the bytes
and therefore of the md5 that specs check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from harness.generated_models.registry import register_generator

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17
PRODUCER_NAME = "aipep.generated_models"
PRODUCER_VERSION = "1"

# MobileNetV1 (Howard et al. 2017, Table 1): (output channels, stride) of the
# 13 depthwise-separable blocks that follow the first 3x3 stride-2 convolution.
MOBILENET_V1_BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)
MOBILENET_V1_STEM_CHANNELS = 32
MOBILENET_V1_CLASSES = 1000


@dataclass
class _GraphBuilder:
    """Collects nodes and seeded initializers; hands out unique tensor names."""

    seed: int
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(array, name=name))
        return name

    def he_normal(self, name: str, shape: tuple[int, ...], fan_in: int) -> str:
        scale = np.float32(np.sqrt(2.0 / fan_in))
        return self.constant(name, self.rng.standard_normal(shape, dtype=np.float32) * scale)

    def folded_bias(self, name: str, channels: int) -> str:
        # What is left of BatchNorm once folded into the convolution: a small per-channel shift.
        return self.constant(name, (self.rng.standard_normal(channels, dtype=np.float32) * np.float32(0.01)))

    def node(self, op_type: str, name: str, inputs: list[str], **attributes) -> str:
        output = f"{name}_out"
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attributes))
        return output

    def conv(
        self, name: str, x: str, in_channels: int, out_channels: int, kernel: int, stride: int, group: int = 1
    ) -> str:
        weight_shape = (out_channels, in_channels // group, kernel, kernel)
        fan_in = weight_shape[1] * kernel * kernel
        weight = self.he_normal(f"{name}_weight", weight_shape, fan_in)
        bias = self.folded_bias(f"{name}_bias", out_channels)
        pad = kernel // 2
        return self.node(
            "Conv",
            name,
            [x, weight, bias],
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad, pad, pad, pad],
            group=group,
        )

    def gemm(self, name: str, x: str, in_features: int, out_features: int) -> str:
        # Fan-in scaling without the ReLU gain: a classifier feeds Softmax, not a ReLU.
        weight = self.constant(
            f"{name}_weight",
            self.rng.standard_normal((out_features, in_features), dtype=np.float32)
            * np.float32(np.sqrt(1.0 / in_features)),
        )
        bias = self.folded_bias(f"{name}_bias", out_features)
        return self.node("Gemm", name, [x, weight, bias], transB=1)

    def model(self, graph_name: str, input_shape: list[int], output: str, output_shape: list[int]) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, output_shape)],
            initializer=self.initializers,
        )
        model = helper.make_model(
            graph,
            producer_name=PRODUCER_NAME,
            producer_version=PRODUCER_VERSION,
            opset_imports=[helper.make_opsetid("", OPSET)],
        )
        model.ir_version = IR_VERSION
        return model


def _save(model: onnx.ModelProto, destination: Path) -> None:
    onnx.checker.check_model(model)
    Path(destination).write_bytes(model.SerializeToString(deterministic=True))


@register_generator("mobilenet_v1_1.0_224.onnx")
def mobilenet_v1(destination: Path) -> None:
    """MobileNetV1, width 1.0, 224x224 input: 27 convolutions and a classifier, 4.2 M parameters."""
    graph = _GraphBuilder(seed=20170417)
    relu6_min = graph.constant("relu6_min", np.array(0.0, dtype=np.float32))
    relu6_max = graph.constant("relu6_max", np.array(6.0, dtype=np.float32))

    def relu6(name: str, x: str) -> str:
        return graph.node("Clip", name, [x, relu6_min, relu6_max])

    channels = MOBILENET_V1_STEM_CHANNELS
    x = graph.conv("Conv_0", "input", 3, channels, kernel=3, stride=2)
    x = relu6("Relu6_0", x)
    for index, (out_channels, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        x = graph.conv(f"DepthwiseConv_{index}", x, channels, channels, kernel=3, stride=stride, group=channels)
        x = relu6(f"Relu6_depthwise_{index}", x)
        x = graph.conv(f"PointwiseConv_{index}", x, channels, out_channels, kernel=1, stride=1)
        x = relu6(f"Relu6_pointwise_{index}", x)
        channels = out_channels
    x = graph.node("GlobalAveragePool", "GlobalAveragePool", [x])
    x = graph.node("Flatten", "Flatten", [x], axis=1)
    x = graph.gemm("Gemm_logits", x, channels, MOBILENET_V1_CLASSES)
    x = graph.node("Softmax", "Softmax", [x], axis=-1)
    model = graph.model("mobilenet_v1_1.0_224", [1, 3, 224, 224], x, [1, MOBILENET_V1_CLASSES])
    _save(model, destination)


@register_generator("tiny_convnet.onnx")
def tiny_convnet(destination: Path) -> None:
    """A few-layer convnet on 1x3x32x32 that runs in well under a millisecond, for tests."""
    graph = _GraphBuilder(seed=32)
    x = graph.conv("Conv_0", "input", 3, 8, kernel=3, stride=1)
    x = graph.node("Relu", "Relu_0", [x])
    x = graph.node("MaxPool", "MaxPool_0", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = graph.conv("Conv_1", x, 8, 16, kernel=3, stride=1)
    x = graph.node("Relu", "Relu_1", [x])
    x = graph.node("MaxPool", "MaxPool_1", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = graph.node("Flatten", "Flatten", [x], axis=1)
    x = graph.gemm("Gemm_logits", x, 16 * 8 * 8, 10)
    x = graph.node("Softmax", "Softmax", [x], axis=-1)
    model = graph.model("tiny_convnet", [1, 3, 32, 32], x, [1, 10])
    _save(model, destination)
