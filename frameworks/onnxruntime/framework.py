"""onnxruntime: runs the shipped bench_program.py under the interpreter a benchmark names.

`{program}` is a Python interpreter, not a binary: the onnxruntime build
under test is whatever that interpreter imports, so comparing two builds is
comparing two virtualenvs. The script prints AIPEP observer lines, so
parsing is the default one. For an `error` test it also writes its outputs
to the `{output_file}` the harness provides.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aipep_core.errors import UserError
from aipep_core.model_variants import QUALITY_METRIC
from aipep_core.spec import TestSpec
from frameworks.base import Framework
from frameworks.load_flags import load_flags
from frameworks.onnxruntime.bench_program import GRAPH_OPTIMIZATIONS, INPUT_TYPES
from frameworks.registry import register_framework

BENCH_PROGRAM = Path(__file__).resolve().with_name("bench_program.py")
MODEL_ROLE = "model"


@register_framework
class OnnxRuntimeFramework(Framework):
    name = "onnxruntime"
    runtime_packages = ("onnxruntime", "onnxruntime-gpu", "numpy")
    runs_quality_pass = True
    takes_turns = True

    def default_program(self) -> str:
        return sys.executable

    def default_command(self, test: TestSpec) -> list[str]:
        where = test.where
        command = [
            "{program}",
            str(BENCH_PROGRAM),
            "--model",
            "{files." + MODEL_ROLE + "}",
            "--warmup",
            "{warmup}",
            "--iter",
            "{iter}",
            "--threads",
            str(_threads(test.option("threads", 1), where)),
            "--provider",
            _text(test.option("execution_provider", "CPUExecutionProvider"), f"{where}.execution_provider"),
            "--graph_optimization",
            _graph_optimization(test.option("graph_optimization", "all"), where),
        ]
        command += input_flags(test.inputs, f"{where}.inputs")
        if test.metric == QUALITY_METRIC and test.dataset is not None:
            # The quality pass: every sample of the test's dataset, outputs to the file the harness reads.
            return [*command, "--dataset_inputs", "{dataset_inputs}", "--output", "{output_file}", "--no_operators"]
        if test.metric in ("error", QUALITY_METRIC):
            # The harness names the file it reads outputs from; timing operators would only cost time.
            return [*command, "--output", "{output_file}", "--no_operators"]
        command += load_flags(test)
        if test.option("operators", True) is False:
            command.append("--no_operators")
        elif net_in_operator_pass(test):
            command.append("--net_in_operator_pass")
        return command


def net_in_operator_pass(test: TestSpec) -> bool:
    """The test's `net_in_operator_pass`: whether NET is timed in the profiled operator pass, one pass
    per process instead of two (bench_program.py says what it costs NET). A test without the operator
    pass (`operators` false) times NET in the one pass it has, whatever this says."""
    value = test.option("net_in_operator_pass", False)
    if not isinstance(value, bool):
        raise UserError(f"{test.where}.net_in_operator_pass: expected true or false, got {value!r:.80}")
    return value and test.option("operators", True) is not False


def input_flags(inputs: dict[str, Any], where: str) -> list[str]:
    """FAI-PEP `inputs` → `--input name:d0,d1,...:type` flags.

    An entry is `{"shapes": [[...]], "type": "float"}` for the input named by
    its key, or, as FAI-PEP also allows, one shape per name in `identifiers`.
    """
    flags: list[str] = []
    for key, entry in inputs.items():
        here = f"{where}.{key}"
        if not isinstance(entry, dict):
            raise UserError(f"{here}: expected an object with 'shapes' and 'type', got {entry!r:.80}")
        identifiers = entry.get("identifiers", [key])
        if not isinstance(identifiers, list) or not all(isinstance(name, str) and name for name in identifiers):
            raise UserError(f"{here}.identifiers: expected a list of input names, got {identifiers!r:.80}")
        shapes = entry.get("shapes")
        if not isinstance(shapes, list) or len(shapes) != len(identifiers) or not all(map(_is_shape, shapes)):
            raise UserError(
                f"{here}.shapes: expected {len(identifiers)} shape(s), each a list of integers >= 0, got {shapes!r:.80}"
            )
        type_name = entry.get("type", "float")
        if type_name not in INPUT_TYPES:
            raise UserError(f"{here}.type: expected one of {', '.join(INPUT_TYPES)}, got {type_name!r:.80}")
        for name, shape in zip(identifiers, shapes, strict=True):
            flags += ["--input", f"{name}:{','.join(str(dim) for dim in shape)}:{type_name}"]
    return flags


def _is_shape(shape: Any) -> bool:
    return isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)


def _threads(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"{where}.threads: expected an integer >= 1, got {value!r:.80}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise UserError(f"{where}: expected a non-empty string, got {value!r:.80}")
    return value


def _graph_optimization(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in GRAPH_OPTIMIZATIONS:
        raise UserError(
            f"{where}.graph_optimization: expected one of {', '.join(GRAPH_OPTIMIZATIONS)}, got {value!r:.80}"
        )
    return value
