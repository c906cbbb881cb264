"""Controlled slowdowns of a real model's runtime, for the detection benchmark.

A benchmark of detection needs a treatment whose true slowdown is known. On the microkernel
that is extra compiled work; on an interpreter-hosted runtime (onnxruntime, TFLite) it is
injected in two ways:

* whole network: the arm's program is a small launcher for this Python whose
  `sitecustomize` wraps `InferenceSession.run` or `Interpreter.invoke` with a busy wait of a
  fixed fraction of each call's own time, so every inference is that much slower, in CPU
  work like a real regression. The control gets the same launcher with a fraction of 0, so
  both arms pay the same start-up and the same wrapper;
* one operator: a model variant whose one depthwise convolution has a larger kernel
  (5x5 instead of 3x3, padded to the same output), so that operator does 25/9 of its
  multiply-adds and nothing else changes. The variant is generated from the same seeded
  weights every time.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

SITECUSTOMIZE = '''\
"""Slows every inference of this process by {percent}% of its own time (aipep detection benchmark)."""
import time

FRACTION = {fraction!r}


def _slowed(call):
    def slowed(*args, **kwargs):
        start = time.perf_counter()
        result = call(*args, **kwargs)
        end = start + (time.perf_counter() - start) * (1.0 + FRACTION)
        while time.perf_counter() < end:
            pass
        return result

    return slowed


{patch}
'''
PATCHES = {
    "onnxruntime": "import onnxruntime\n\nonnxruntime.InferenceSession.run = _slowed(onnxruntime.InferenceSession.run)",
    "tflite": (
        "from ai_edge_litert.interpreter import Interpreter\n\nInterpreter.invoke = _slowed(Interpreter.invoke)"
    ),
}


SWAP = """
_PLAIN, _VARIANT = {plain!r}, {variant!r}
_load = onnxruntime.InferenceSession.__init__


def _load_variant(self, path_or_bytes, *args, **kwargs):
    _load(self, _VARIANT if path_or_bytes == _PLAIN else path_or_bytes, *args, **kwargs)


onnxruntime.InferenceSession.__init__ = _load_variant
"""


def slowed_interpreter(directory: Path, framework: str, percent: float, swap: tuple[Path, Path] | None = None) -> Path:
    """A launcher of this Python whose every inference takes `percent` % longer; the path to run.

    `swap` (onnxruntime): (model, variant): a session asked for the model loads the variant,
    which is how one operator of the treatment's network does more work."""
    directory.mkdir(parents=True, exist_ok=True)
    patch = PATCHES[framework]
    if swap is not None:
        patch += SWAP.format(plain=str(swap[0]), variant=str(swap[1]))
    (directory / "sitecustomize.py").write_text(
        SITECUSTOMIZE.format(percent=percent, fraction=percent / 100.0, patch=patch)
    )
    launcher = directory / "python"
    launcher.write_text(f'#!/bin/sh\nPYTHONPATH={directory} exec {sys.executable} "$@"\n')
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return launcher


def onnx_operator_variant(source: Path, destination: Path, node_name: str) -> Path:
    """The model with one depthwise convolution's kernel grown from 3x3 to 5x5 (same output shape).

    The original weights sit in the middle of the new kernel, the ring around them is seeded,
    so the variant is the same file every time."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    (node,) = [n for n in model.graph.node if n.name == node_name]
    weights = {init.name: init for init in model.graph.initializer}
    weight = weights[node.input[1]]
    array = numpy_helper.to_array(weight)
    rng = np.random.default_rng(4)
    grown = rng.standard_normal((*array.shape[:2], 5, 5)).astype(np.float32) * np.float32(0.01)
    grown[:, :, 1:4, 1:4] = array
    weight.CopyFrom(numpy_helper.from_array(grown, name=weight.name))
    for attribute in node.attribute:
        if attribute.name == "kernel_shape":
            attribute.ints[:] = [5, 5]
        elif attribute.name == "pads":
            attribute.ints[:] = [2, 2, 2, 2]
    onnx.checker.check_model(model)
    destination.write_bytes(model.SerializeToString(deterministic=True))
    return destination


def load_average() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())
