"""TFLite models written from the flatbuffer schema shipped in the LiteRT wheel.

Building them here means tests and the quick start need neither TensorFlow nor
a download. Weights come from a seeded generator, so the bytes never change.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np

from harness.generated_models.registry import register_generator

try:
    from ai_edge_litert import schema_py_generated as schema
except ModuleNotFoundError:  # pragma: no cover - only when a user has tflite_runtime alone
    from tflite_runtime import schema_py_generated as schema

# (output channels, stride) of MobileNetV1's 13 depthwise-separable blocks.
MOBILENET_V1_BLOCKS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)  # fmt: skip


class _GraphBuilder:
    """Accumulates tensors, buffers and operators of one subgraph."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.buffers = [schema.BufferT()]  # buffer 0 stays empty, as the format requires
        self.tensors: list = []
        self.operators: list = []
        self.opcodes: list[int] = []

    def tensor(self, name: str, shape: list[int], data: np.ndarray | None = None) -> int:
        buffer_index = 0
        if data is not None:
            buffer = schema.BufferT()
            buffer.data = np.ascontiguousarray(data, dtype=np.float32).tobytes()
            self.buffers.append(buffer)
            buffer_index = len(self.buffers) - 1
        tensor = schema.TensorT()
        tensor.name = name.encode()
        tensor.shape = list(shape)
        tensor.type = schema.TensorType.FLOAT32
        tensor.buffer = buffer_index
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def weights(self, name: str, shape: list[int], fan_in: int) -> int:
        data = self.rng.standard_normal(shape).astype(np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        return self.tensor(name, shape, data)

    def operator(self, code: int, inputs: list[int], outputs: list[int], options_type: int, options) -> None:
        if code not in self.opcodes:
            self.opcodes.append(code)
        op = schema.OperatorT()
        op.opcodeIndex = self.opcodes.index(code)
        op.inputs = inputs
        op.outputs = outputs
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        self.operators.append(op)

    def conv(self, name: str, source: int, size: int, in_ch: int, out_ch: int, kernel: int, stride: int) -> int:
        out_size = -(-size // stride)
        weights = self.weights(f"{name}/weights", [out_ch, kernel, kernel, in_ch], kernel * kernel * in_ch)
        bias = self.tensor(f"{name}/bias", [out_ch], np.zeros(out_ch, np.float32))
        output = self.tensor(f"{name}/Relu6", [1, out_size, out_size, out_ch])
        options = schema.Conv2DOptionsT()
        options.padding = schema.Padding.SAME
        options.strideW = options.strideH = stride
        options.fusedActivationFunction = schema.ActivationFunctionType.RELU6
        self.operator(
            schema.BuiltinOperator.CONV_2D,
            [source, weights, bias],
            [output],
            schema.BuiltinOptions.Conv2DOptions,
            options,
        )
        return output

    def depthwise(self, name: str, source: int, size: int, channels: int, stride: int) -> int:
        out_size = -(-size // stride)
        weights = self.weights(f"{name}/depthwise_weights", [1, 3, 3, channels], 9)
        bias = self.tensor(f"{name}/bias", [channels], np.zeros(channels, np.float32))
        output = self.tensor(f"{name}/Relu6", [1, out_size, out_size, channels])
        options = schema.DepthwiseConv2DOptionsT()
        options.padding = schema.Padding.SAME
        options.strideW = options.strideH = stride
        options.depthMultiplier = 1
        options.fusedActivationFunction = schema.ActivationFunctionType.RELU6
        self.operator(
            schema.BuiltinOperator.DEPTHWISE_CONV_2D,
            [source, weights, bias],
            [output],
            schema.BuiltinOptions.DepthwiseConv2DOptions,
            options,
        )
        return output

    def classifier(self, source: int, size: int, channels: int, classes: int) -> int:
        pooled = self.tensor("AvgPool", [1, 1, 1, channels])
        pool = schema.Pool2DOptionsT()
        pool.padding = schema.Padding.VALID
        pool.strideW = pool.strideH = size
        pool.filterWidth = pool.filterHeight = size
        self.operator(
            schema.BuiltinOperator.AVERAGE_POOL_2D, [source], [pooled], schema.BuiltinOptions.Pool2DOptions, pool
        )
        weights = self.weights("Logits/weights", [classes, channels], channels)
        bias = self.tensor("Logits/bias", [classes], np.zeros(classes, np.float32))
        logits = self.tensor("Logits", [1, classes])
        fully = schema.FullyConnectedOptionsT()
        self.operator(
            schema.BuiltinOperator.FULLY_CONNECTED,
            [pooled, weights, bias],
            [logits],
            schema.BuiltinOptions.FullyConnectedOptions,
            fully,
        )
        probabilities = self.tensor("Predictions", [1, classes])
        softmax = schema.SoftmaxOptionsT()
        softmax.beta = 1.0
        self.operator(
            schema.BuiltinOperator.SOFTMAX, [logits], [probabilities], schema.BuiltinOptions.SoftmaxOptions, softmax
        )
        return probabilities

    def serialize(self, input_index: int, output_index: int, description: str) -> bytes:
        subgraph = schema.SubGraphT()
        subgraph.name = b"main"
        subgraph.tensors = self.tensors
        subgraph.operators = self.operators
        subgraph.inputs = [input_index]
        subgraph.outputs = [output_index]
        model = schema.ModelT()
        model.version = 3
        model.description = description.encode()
        model.subgraphs = [subgraph]
        model.buffers = self.buffers
        model.operatorCodes = [_operator_code(code) for code in self.opcodes]
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def _operator_code(code: int):
    """Both code fields: old readers use the deprecated byte, new ones the full int."""
    opcode = schema.OperatorCodeT()
    opcode.builtinCode = code
    opcode.deprecatedBuiltinCode = code
    opcode.version = 1
    return opcode


def mobilenet_v1_bytes() -> bytes:
    graph = _GraphBuilder(seed=224)
    image = graph.tensor("input", [1, 224, 224, 3])
    current = graph.conv("Conv2d_0", image, 224, 3, 32, 3, 2)
    size, channels = 112, 32
    for number, (out_ch, stride) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        current = graph.depthwise(f"Conv2d_{number}_depthwise", current, size, channels, stride)
        size = -(-size // stride)
        current = graph.conv(f"Conv2d_{number}_pointwise", current, size, channels, out_ch, 1, 1)
        channels = out_ch
    output = graph.classifier(current, size, channels, 1000)
    return graph.serialize(image, output, "aipep generated MobileNetV1 1.0 224")


def tiny_convnet_bytes() -> bytes:
    graph = _GraphBuilder(seed=16)
    image = graph.tensor("input", [1, 16, 16, 3])
    current = graph.conv("conv0", image, 16, 3, 8, 3, 2)
    current = graph.depthwise("conv1_depthwise", current, 8, 8, 1)
    current = graph.conv("conv1_pointwise", current, 8, 8, 16, 1, 1)
    output = graph.classifier(current, 8, 16, 10)
    return graph.serialize(image, output, "aipep generated tiny convnet")


@register_generator("mobilenet_v1_1.0_224.tflite")
def write_mobilenet_v1(destination: Path) -> None:
    destination.write_bytes(mobilenet_v1_bytes())


@register_generator("tiny_convnet.tflite")
def write_tiny_convnet(destination: Path) -> None:
    destination.write_bytes(tiny_convnet_bytes())
