"""v2_endpoint: runs the shipped bench_program.py against the serving endpoint a test's `target` names.

`{program}` is a Python interpreter, as for onnxruntime: the client library under test is
whatever that interpreter imports. What differs between the arms of an A/B is usually the
server, so an arm may name its own endpoint in `--info` (`"target": {"url": ...}`), and each
arm's process is pointed at its own. A test's `scenario` and `cold_start` reach the program
as the same flags every bench program with a load mode reads (frameworks/load_flags.py), so
LoadGen drives the endpoint as it drives an in-process session. The program prints AIPEP
observer lines, so parsing is the default one.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from aipep_core.errors import UserError
from aipep_core.spec import TestSpec
from frameworks.base import CommandContext, Framework
from frameworks.load_flags import load_flags
from frameworks.onnxruntime.bench_program import INPUT_TYPES
from frameworks.onnxruntime.framework import input_flags
from frameworks.registry import register_framework

BENCH_PROGRAM = Path(__file__).resolve().with_name("bench_program.py")
SUPPORTED_PROTOCOLS = ("v2",)


@register_framework
class V2EndpointFramework(Framework):
    name = "v2_endpoint"
    runtime_packages = ("tritonclient", "numpy")
    uses_target = True

    def default_program(self) -> str:
        return sys.executable

    def compose(self, test: TestSpec, context: CommandContext) -> list[list[str]]:
        """The arm's endpoint is given to every command as `{target.url}`, `{target.model}` and
        `{target.version}` (empty for the server's default version)."""
        if test.target is None:
            raise UserError(
                f"{test.where}.target: missing, expected an object with 'protocol', 'url' and 'model' "
                f"(the {self.name} framework sends its requests there)"
            )
        target = test.target.for_arm(context.arm_options)
        if target.protocol not in SUPPORTED_PROTOCOLS:
            raise UserError(f"{test.where}.target.protocol: expected one of {', '.join(SUPPORTED_PROTOCOLS)}")
        endpoint = {"target.url": target.url, "target.model": target.model, "target.version": target.version or ""}
        return super().compose(test, replace(context, extra={**context.extra, **endpoint}))

    def default_command(self, test: TestSpec) -> list[str]:
        command = [
            "{program}",
            str(BENCH_PROGRAM),
            "--url",
            "{target.url}",
            "--model",
            "{target.model}",
            "--model_version",
            "{target.version}",
            "--warmup",
            "{warmup}",
            "--iter",
            "{iter}",
        ]
        return command + _numpy_typed(input_flags(test.inputs, f"{test.where}.inputs")) + load_flags(test)


def _numpy_typed(flags: list[str]) -> list[str]:
    """`--input name:dims:type` with the spec's type name (FAI-PEP's, checked by `input_flags`) as the
    numpy dtype the program takes."""
    converted = []
    for flag in flags:
        if flag != "--input":
            head, type_name = flag.rsplit(":", 1)
            flag = f"{head}:{INPUT_TYPES[type_name]}"
        converted.append(flag)
    return converted
