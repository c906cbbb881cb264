"""tflite: our interpreter program by default, TFLite's `benchmark_model` output when a test has `commands`.

Without `commands`, `{program}` is a Python interpreter that runs the shipped
bench_program.py, so the runtime under test is whatever that interpreter
imports (two virtualenvs = two LiteRT versions). With `commands` (FAI-PEP's
tflite specs) the user's program, usually `benchmark_model`, runs unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from aipep_core.errors import UserError
from aipep_core.spec import TestSpec
from frameworks.base import Framework
from frameworks.load_flags import load_flags
from frameworks.observer_lines import OutputParseError, parse_observer_output
from frameworks.registry import register_framework
from frameworks.samples import MetricSamples
from frameworks.tflite.bench_program import INPUT_TYPES
from frameworks.tflite.benchmark_model_output import looks_like_benchmark_model, parse_benchmark_model_output

BENCH_PROGRAM = Path(__file__).resolve().with_name("bench_program.py")
MODEL_ROLE = "graph"


@register_framework
class TFLiteFramework(Framework):
    name = "tflite"
    runtime_packages = ("ai-edge-litert", "tflite-runtime", "numpy")
    takes_turns = True

    def default_program(self) -> str:
        return sys.executable

    def default_command(self, test: TestSpec) -> list[str]:
        where = test.where
        threads = test.option("threads", 1)
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise UserError(f"{where}.threads: expected an integer >= 1, got {threads!r:.80}")
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
            str(threads),
        ]
        command += input_flags(test.inputs, f"{where}.inputs")
        command += load_flags(test)
        if test.metric == "error":
            command += ["--output", "{output_file}"]
        return command

    def parse(self, stdout: str, stderr: str = "") -> list[MetricSamples]:
        """benchmark_model logs to stderr on some builds and stdout on others, so both are read."""
        if looks_like_benchmark_model(stdout + "\n" + stderr):
            return parse_benchmark_model_output(stdout + "\n" + stderr)
        samples = parse_observer_output(stdout)
        if not samples:
            raise OutputParseError(
                "tflite output: neither observer lines nor benchmark_model's 'count=... avg=...' summary found"
            )
        return samples


def input_flags(inputs: dict[str, Any], where: str) -> list[str]:
    """FAI-PEP `inputs` (`{"name": {"shapes": [[...]], "type": "float"}}`) → `--input name:d0,...:type`."""
    flags: list[str] = []
    for name, entry in inputs.items():
        shapes = entry.get("shapes") if isinstance(entry, dict) else None
        if not isinstance(shapes, list) or len(shapes) != 1 or not isinstance(shapes[0], list):
            raise UserError(f"{where}.{name}.shapes: expected one shape (a list of integers), got {shapes!r:.80}")
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shapes[0]):
            raise UserError(f"{where}.{name}.shapes: expected integers >= 0, got {shapes[0]!r:.80}")
        type_name = entry.get("type", "float")
        if type_name not in INPUT_TYPES:
            raise UserError(f"{where}.{name}.type: expected one of {', '.join(INPUT_TYPES)}, got {type_name!r:.80}")
        flags += ["--input", f"{name}:{','.join(map(str, shapes[0]))}:{type_name}"]
    return flags
