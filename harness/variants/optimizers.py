"""Making a model variant: a chain of optimizers applied to an ONNX file before anything runs.

Every step is done by the tools that own the format (onnxruntime's quantization and graph
optimizer, onnxconverter-common's float16 converter), never by rewriting graphs here, so
a variant is what a user of those tools would ship. Each step's output is cached under the
md5 of its input and its settings: the same chain on the same bytes is made once, and a
changed model or setting can never be served a stale variant. A step that cannot apply
(not an ONNX file, an operator the tool does not handle, an output onnxruntime will not
load) is a mistake in the spec or the job: one line naming the step, exit 2. The tools are
imported when a variant is made, so a run without variants does not pay for them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aipep_core.errors import UserError
from aipep_core.model_variants import FLOAT16, GRAPH_OPTIMIZE, QUANTIZE, Optimizer
from harness.model_cache import file_md5

VARIANTS_DIR = "variants"
# How many samples of the dataset's train split static quantization calibrates on: enough
# for stable activation ranges on a small classifier, few enough to stay quick.
CALIBRATION_SAMPLES = 200
_LOAD_MODEL_FROM = re.compile(r"Load model from \S+ failed:")
_ERRORS_ONLY = 3  # onnxruntime's log severity: its advice on saved models is not the run's business
_GRAPH_LEVELS = {"basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


@dataclass(frozen=True)
class Calibration:
    """Samples static quantization reads activation ranges from, and what they are (for the cache key)."""

    inputs: np.ndarray
    source: str


class OptimizerCannotApply(Exception):
    """The tool refused the model or produced one that does not load."""


def apply_optimizers(
    model: Path,
    optimizers: tuple[Optimizer, ...],
    cache_dir: Path,
    where: str,
    calibration: Calibration | None = None,
) -> Path:
    """The file the chain makes of `model` (the model itself for an empty chain).

    `where` names the chain in messages (a spec's test, or an arm of --info)."""
    current = model
    for index, optimizer in enumerate(optimizers):
        here = f"{where}[{index}] ({optimizer.describe()})"
        current = _applied(current, optimizer, cache_dir, here, calibration)
    return current


def _applied(model: Path, optimizer: Optimizer, cache_dir: Path, where: str, calibration: Calibration | None) -> Path:
    settings = optimizer.to_json()
    if optimizer.type == QUANTIZE and optimizer.setting("mode") == "static":
        if calibration is None:
            raise UserError(f"{where}: static quantization calibrates on the test's dataset; the test has none")
        settings["calibration"] = calibration.source
    key = hashlib.md5(f"{file_md5(model)}:{json.dumps(settings, sort_keys=True)}".encode()).hexdigest()
    target = cache_dir / VARIANTS_DIR / key / f"{model.stem}.{_suffix(optimizer)}.onnx"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".part-"))
    try:
        produced = scratch / target.name
        _check_onnx(model, where)
        with _quiet():
            _STEPS[optimizer.type](model, produced, optimizer, calibration, scratch)
            _check_loads(produced)
        os.replace(produced, target)
    except OptimizerCannotApply as exc:
        raise UserError(f"{where}: cannot apply to {model.name}: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _suffix(optimizer: Optimizer) -> str:
    return "-".join([optimizer.type.removeprefix("onnx_"), *(value for _, value in optimizer.settings)])


def _check_onnx(model: Path, where: str) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(model))
    except Exception as exc:  # the protobuf parser and the checker each raise their own types
        raise UserError(f"{where}: {model.name} is not an ONNX model ({_first_line(exc)})") from None


def _check_loads(produced: Path) -> None:
    """A variant onnxruntime cannot load would fail every round of the run: refuse it now."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = _ERRORS_ONLY
    try:
        ort.InferenceSession(str(produced), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise OptimizerCannotApply(f"onnxruntime cannot load the result ({_first_line(exc)})") from None


def _quantize(
    model: Path, produced: Path, optimizer: Optimizer, calibration: Calibration | None, scratch: Path
) -> None:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize_dynamic, quantize_static

    weight_type = QuantType.QInt8 if optimizer.setting("weight_type") == "int8" else QuantType.QUInt8
    try:
        if optimizer.setting("mode") == "dynamic":
            quantize_dynamic(str(model), str(produced), weight_type=weight_type)
            return
        input_name = onnx.load(str(model)).graph.input[0].name

        class _Samples(CalibrationDataReader):
            def __init__(self) -> None:
                self.rows = iter(calibration.inputs[:CALIBRATION_SAMPLES])

            def get_next(self):
                row = next(self.rows, None)
                return None if row is None else {input_name: row[np.newaxis, ...]}

        quantize_static(str(model), str(produced), _Samples(), weight_type=weight_type)
    except Exception as exc:  # the quantizer raises whatever its graph walk meets
        raise OptimizerCannotApply(_first_line(exc)) from None


def _float16(model: Path, produced: Path, optimizer: Optimizer, calibration: Calibration | None, scratch: Path) -> None:
    import onnx
    from onnxconverter_common import float16

    loaded = onnx.load(str(model))
    # A Cast to float32 stays float32 after conversion and would feed float32 into float16
    # operators; blocking it makes the converter put casts around it.
    casts_to_float = [
        node.name
        for node in loaded.graph.node
        if node.op_type == "Cast"
        and node.name
        and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT for a in node.attribute)
    ]
    try:
        converted = float16.convert_float_to_float16(loaded, keep_io_types=True, node_block_list=casts_to_float)
    except Exception as exc:  # the converter raises whatever its graph walk meets
        raise OptimizerCannotApply(_first_line(exc)) from None
    onnx.save(converted, str(produced))


def _graph_optimize(
    model: Path, produced: Path, optimizer: Optimizer, calibration: Calibration | None, scratch: Path
) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _GRAPH_LEVELS[optimizer.setting("level")])
    options.optimized_model_filepath = str(produced)
    options.intra_op_num_threads = 1
    options.log_severity_level = _ERRORS_ONLY
    try:
        ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise OptimizerCannotApply(_first_line(exc)) from None


_STEPS: dict[str, Callable[..., None]] = {QUANTIZE: _quantize, FLOAT16: _float16, GRAPH_OPTIMIZE: _graph_optimize}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The tools print advice and warnings of their own; a run's output keeps to aipep's lines."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _first_line(exc: BaseException) -> str:
    """The tool's message on one line, without the scratch paths onnxruntime names (they are gone by now)."""
    text = _LOAD_MODEL_FROM.sub("", " ".join(str(exc).split()))
    return text[:300] or type(exc).__name__
