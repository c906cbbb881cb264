"""FAI-PEP's `format: caffe2`: its benchmark binary prints Caffe2Observer lines, and a test that
gives no commands runs the binary with flags composed from the spec, as FAI-PEP does.

FAI-PEP's caffe2 specs without `commands` name only the model files (`predict`, optionally
`init`), the inputs (shapes and type, or `input_files`) and `output_files`; the binary's
flags follow from those. A `commands` object's `caffe2` entry of flags adds `--name value`.
"""

from __future__ import annotations

from aipep_core.errors import UserError
from aipep_core.spec import TestSpec
from frameworks.base import CommandContext, with_command_args
from frameworks.generic import GenericFramework
from frameworks.registry import register_framework


@register_framework
class Caffe2Framework(GenericFramework):
    name = "caffe2"

    def compose(self, test: TestSpec, context: CommandContext) -> list[list[str]]:
        if test.commands_for(self.name) or test.arguments is not None:
            return super().compose(test, context)
        template = [*self._default_command(test, context), *test.flags_for(self.name)]
        return self.substituted(with_command_args([template], context), test, context)

    def _default_command(self, test: TestSpec, context: CommandContext) -> list[str]:
        command = ["{program}", "--net", "{files.predict}", "--warmup", "{warmup}", "--iter", "{iter}"]
        if "init" in context.files:
            command += ["--init_net", "{files.init}"]
        if test.input_files:
            command += ["--input_file", ",".join("{input_files." + role + "}" for role in test.input_files)]
            command += ["--input", ",".join(test.input_files)]
        elif test.inputs:
            command += ["--input_dims", ";".join(_dims(test, name, entry) for name, entry in test.inputs.items())]
            command += ["--input", ",".join(test.inputs)]
        if test.inputs:
            command += ["--input_type", str(next(iter(test.inputs.values())).get("type", "float"))]
        if test.output_files:
            command += ["--output", ",".join(test.output_files), "--text_output", "true"]
            command += ["--output_folder", "{output_dir}"]
        return command


def _dims(test: TestSpec, name: str, entry: object) -> str:
    shapes = entry.get("shapes") if isinstance(entry, dict) else None
    if not isinstance(shapes, list) or len(shapes) != 1 or not isinstance(shapes[0], list):
        raise UserError(
            f"{test.where}.inputs.{name}.shapes: expected one shape (a list of integers), got {shapes!r:.80}; "
            "write one test per shape"
        )
    return ",".join(str(dimension) for dimension in shapes[0])
