"""The small interface every framework plug-in implements."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aipep_core.errors import UserError
from aipep_core.placeholders import substitute
from aipep_core.spec import TestSpec
from frameworks.observer_lines import parse_observer_output
from frameworks.python_runtime_probe import python_version_probe
from frameworks.samples import MetricSamples


@dataclass(frozen=True)
class TurnPipes:
    """Where an arm of an alternating round hands the turn over (device paths of two named pipes).

    The harness names them; the bench program makes them and takes turns through them
    (frameworks/program_parts/turn_taking.py). `deadline_s` bounds every wait for the partner."""

    receive: str
    send: str
    first: bool
    deadline_s: float

    def flags(self) -> list[str]:
        first = ["--turn_first"] if self.first else []
        return ["--turn_fifos", f"{self.receive},{self.send}", *first, "--turn_deadline", f"{self.deadline_s:g}"]


@dataclass(frozen=True)
class CommandContext:
    """Everything a framework may put into a command, as seen from the device.

    `arm_options` are the running arm's own settings (such as its endpoint, for a framework
    that sends requests to one). `tokens` are FAI-PEP's `{NAME}` values known only when the arm
    runs (its per-arm string map, `{TGTDIR}` and the like); FAI-PEP replaces them everywhere in
    the benchmark, so they fill the test's and model's fields too, not only the commands.
    `refused_tokens` name those this run cannot define, each with the reason."""

    program: str
    files: dict[str, str] = field(default_factory=dict)
    output_dir: str = "."
    extra: dict[str, str] = field(default_factory=dict)
    model_fields: dict[str, str] = field(default_factory=dict)
    command_args: str = ""
    arm_options: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    refused_tokens: dict[str, str] = field(default_factory=dict)
    turns: TurnPipes | None = None


class Framework:
    """Composes argv lists for a test and turns program output into samples.

    The default behaviour is FAI-PEP's: the test's `commands` (or `arguments`
    after `{program}`) with placeholders substituted argument by argument, and
    observer lines parsed from stdout. Frameworks override only what differs.
    """

    name: ClassVar[str] = ""
    runtime_packages: ClassVar[tuple[str, ...]] = ()
    # Whether the framework sends requests to a test's `target` (a serving endpoint); under any
    # other a target would be silently ignored, so the harness refuses it.
    uses_target: ClassVar[bool] = False
    # True when the default command of a `quality` test runs `{dataset_inputs}` (when the test
    # has a dataset) and writes the outputs to `{output_file}`: the harness's quality pass.
    runs_quality_pass: ClassVar[bool] = False
    # True when the default command's program takes `TurnPipes.flags()` and then times each
    # iteration only in its turn: the framework can run alternating rounds.
    takes_turns: ClassVar[bool] = False

    def default_program(self) -> str | None:
        """The program to run when the user names none (a shipped benchmark)."""
        return None

    def compose(self, test: TestSpec, context: CommandContext) -> list[list[str]]:
        """The benchmark commands; the model's `command_args` (FAI-PEP's list `meta`) end every one
        that runs `{program}` (as in FAI-PEP: a helper command in the list is left alone)."""
        commands = test.commands_for(self.name)
        if commands:
            templates = [shlex.split(command) for command in commands]
        elif test.arguments is not None:
            arguments = shlex.split(test.arguments)
            # FAI-PEP puts `{program}` before the arguments; specs that already start with it
            # would run the program with itself as its first argument.
            templates = [arguments if arguments[:1] == ["{program}"] else ["{program}", *arguments]]
        else:
            templates = [[*self.default_command(test), *test.flags_for(self.name)]]
        composed = self.substituted(with_command_args(templates, context), test, context)
        if context.turns is not None:
            refusal = self.why_no_turns(test)
            if refusal is not None:
                raise ValueError(f"{self.name}: {refusal}; the harness must not ask for turns")
            composed[0] += context.turns.flags()
        return composed

    def why_no_turns(self, test: TestSpec) -> str | None:
        """Why this test's arms cannot take turns iteration by iteration (None: they can)."""
        if not self.takes_turns:
            return f"the {self.name} framework's program cannot take turns"
        if test.commands_for(self.name) or test.arguments is not None:
            return "the test runs its own commands"
        if test.scenario is not None or test.cold_start:
            return "a load scenario or cold start runs no timed loop"
        if test.metric != "delay":
            return f"metric {test.metric} is not timed iteration by iteration"
        return None

    def compose_step(self, commands: tuple[str, ...], test: TestSpec, context: CommandContext) -> list[list[str]]:
        """A `preprocess`/`postprocess` step's commands, with the same placeholders and `command_args`
        rule as the benchmark's."""
        templates = with_command_args([shlex.split(command) for command in commands], context)
        return self.substituted(templates, test, context)

    def substituted(self, templates: list[list[str]], test: TestSpec, context: CommandContext) -> list[list[str]]:
        if test.iter is None and any("{iter}" in arg for template in templates for arg in template):
            raise UserError(
                f"{test.where}.iter: missing, but its command uses {{iter}}; expected an integer >= 1 "
                "(without it the program decides how many iterations it runs)"
            )
        values = placeholder_values(test, context)
        composed = [[substitute(arg, values, where=test.where) for arg in template] for template in templates]
        for argv in composed:
            refuse_tokens(argv, context.refused_tokens, test.where)
        return composed

    def default_command(self, test: TestSpec) -> list[str]:
        """The argv template used when a test has neither `commands` nor `arguments`."""
        return ["{program}", "--warmup", "{warmup}", "--iter", "{iter}"]

    def parse(self, stdout: str, stderr: str = "") -> list[MetricSamples]:
        return parse_observer_output(stdout)

    def version_probe(self, test: TestSpec, program: str) -> list[str] | None:
        """An argv printing, as one JSON object, the versions `program` runs on; None when nothing can tell.

        Frameworks whose shipped bench program runs under `{program}` as an interpreter name
        their runtime's packages; a test's own `commands` or `arguments` run the user's
        program, which is asked nothing.
        """
        if not self.runtime_packages or test.commands_for(self.name) or test.arguments is not None:
            return None
        return python_version_probe(program, self.runtime_packages)


def with_command_args(templates: list[list[str]], context: CommandContext) -> list[list[str]]:
    """The model's `command_args` end every command that runs `{program}`; a helper command
    (another program) is left alone, as in FAI-PEP."""
    extra_args = shlex.split(context.command_args)
    return [
        [*template, *extra_args] if any("{program}" in arg for arg in template) else template for template in templates
    ]


def placeholder_values(test: TestSpec, context: CommandContext) -> dict[str, str]:
    """Map placeholder names to their values for one test on one device.

    As in FAI-PEP, a name the test does not define is looked up among the model's fields."""
    values = dict(context.model_fields)
    values.update({key: str(value) for key, value in test.scalar_fields().items()})
    values.update(
        program=context.program,
        warmup=str(test.warmup),
        ID=test.identifier,
        output_dir=context.output_dir,
    )
    if test.iter is not None:
        values["iter"] = str(test.iter)
    values.update({f"files.{role}": path for role, path in context.files.items()})
    values.update(context.extra)
    # A refused token stays as written, so the composed command shows it and refuse_tokens names it.
    tokens = {**{name: "{" + name + "}" for name in context.refused_tokens}, **context.tokens}
    values = {name: _with_tokens(value, tokens) for name, value in values.items()}
    return {**values, **tokens}


def _with_tokens(value: str, tokens: dict[str, str]) -> str:
    for name, replacement in tokens.items():
        value = value.replace("{" + name + "}", replacement)
    return value


def refuse_tokens(argv: list[str], refused: dict[str, str], where: str) -> None:
    """A command that still holds a token this run cannot define is one line naming the token and why."""
    for name, reason in refused.items():
        if any("{" + name + "}" in arg for arg in argv):
            raise UserError(f"{where}: {{{name}}}: {reason}")
