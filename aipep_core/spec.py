"""Loading and validating FAI-PEP-compatible benchmark specifications.

Everything is checked against `spec_schema.json` before anything runs, so a
mistake costs the user one line, not a half-finished benchmark.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from aipep_core.endpoint_target import EndpointTarget
from aipep_core.errors import UserError
from aipep_core.load_scenario import LoadScenario
from aipep_core.model_variants import (
    DEFAULT_ACCURACY_THRESHOLD_POINTS,
    DatasetSpec,
    Optimizer,
    parse_dataset,
    parse_optimizers,
)
from aipep_core.resource_metrics import DEFAULT_RESOURCE_THRESHOLDS_PCT
from aipep_core.run_constraints import RunConstraints

DEFAULT_REGRESSION_THRESHOLD_PCT = 2.0
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_ROUNDS = 8
DEFAULT_MAX_ROUNDS = 40

# An operator whose change is smaller than this many microseconds is `below_floor`, not a
# regression. Profilers report operator times in whole microseconds (onnxruntime's profile,
# TFLite's op profiling), so a change of a few microseconds is a few clock ticks; and on the
# networks this tool watches (MobileNetV1 on one CPU thread: about 8 ms here, tens of ms on a
# phone) the smallest NET change a 1-2% threshold can flag is 80 us or more, which a 5 us
# operator change could not make even with a dozen operators moving together. The
# onnxruntime comparison that flagged Flatten and Softmax at +85% was about 2-3 us each.
DEFAULT_MIN_ABS_CHANGE_US = 5.0

# The detection benchmark (benchmarks/detection_quality.py) replays the same recorded rounds
# through every statistic: on a shared 2-core machine the minimum over a process's iterations
# found the most injected slowdowns at no cost in false positives, then p10, the median and
# the trimmed mean. Background work only ever adds time to an iteration, so the fastest one
# is the closest to what the code itself costs.
DEFAULT_ROUND_STATISTIC = "min"
# How a round runs its two arms: one after the other, both at once on disjoint CPU sets that
# swap every round (harness/duet_round.py), or both loaded at once and then taking turns one
# timed iteration each (harness/alternating_round.py).
ROUND_DESIGNS = ("sequential", "duet", "alternating")
DEFAULT_ROUND_DESIGN = "sequential"
# Which verdicts a run waits for before it stops early (harness/sequential_decision.py).
# "every_metric": every operator's as well as NET's, the design's rule and the default.
# "net": NET's, once the operators have had the rounds to show a regression; they then report
# what those rounds support. On MobileNetV1 a few operators (the classifier's Gemm, the first
# convolution) move by about 10% from one process to the next, so "every_metric" runs to
# max_rounds almost always; the shipped MobileNetV1 specs ask for "net" (see the README).
NET_DECIDED, EVERY_METRIC = "net", "every_metric"
STOP_RULES = (NET_DECIDED, EVERY_METRIC)
DEFAULT_STOP_WHEN = EVERY_METRIC

# FAI-PEP's `generic` metric: the test's commands run as written and every metric the program
# prints is reported under its own name, treatment beside control, with no verdict (FAI-PEP
# judges only `delay`: nothing says whether more of a program's own metric is better or worse).
GENERIC_METRIC = "generic"

# A `{NAME}` token. FAI-PEP's harness defines none in the locations of the files it fetches
# (`{MODEL_DIR}` among them): the user gives their values with `--string_map`, which replaces
# them everywhere in each spec file before its files are fetched, so a token left in a fetched
# file's location is a mistake. (`{TEMPDIR}` in an output file's location is FAI-PEP's own.)
_TOKEN = re.compile(r"\{([A-Za-z_]\w*)\}")

# FAI-PEP fields that would change what runs but that aipep cannot honour: refused by name,
# never accepted and dropped. (Fields not listed here and not in the schema are test options
# and placeholders, as in FAI-PEP.)
_REFUSED_MODEL_FIELDS = {
    "converter": "FAI-PEP's output converters are not supported; print observer lines instead",
    "libraries": "shared libraries pushed beside the model are not supported; name them in model.files",
    "app": "Android app benchmarks (an activity started for each run) are not supported; benchmark a binary",
}
_REFUSED_TEST_FIELDS = {
    "files": "per-test files are not supported; name them in model.files or input_files",
    "env": "environment variables for the benchmark process are not supported; set them in a wrapper program",
    "MKL_NUM_THREADS": "FAI-PEP's host thread setting is not supported; set it in a wrapper program",
    "OMP_NUM_THREADS": "FAI-PEP's host thread setting is not supported; set it in a wrapper program",
    "cpu-list": "FAI-PEP's host CPU choice is not supported; use platform_args.taskset",
}

_REFUSED_OUTPUT_FILE_FIELDS = {
    "converter": "FAI-PEP's output-file converters are not supported; print observer lines instead",
    "upload": "uploading output files is not supported",
}

_SCHEMA = json.loads((Path(__file__).with_name("spec_schema.json")).read_text())
_VALIDATOR = jsonschema.Draft202012Validator(_SCHEMA)
_ARM_TARGET_VALIDATOR = jsonschema.Draft202012Validator({"$defs": _SCHEMA["$defs"], "$ref": "#/$defs/arm_target"})


@dataclass(frozen=True)
class ModelFile:
    role: str
    filename: str
    location: str
    md5: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """`command_args` (a benchmark list's `meta` or the model's own) ends every command that runs
    `{program}`; `preprocess`/`postprocess` run around every test's commands."""

    name: str
    format: str
    files: dict[str, ModelFile]
    cooldown: float = 0.0
    repeat: int = 1
    timeout: float | None = None
    command_args: str = ""
    preprocess: tuple[str, ...] = ()
    postprocess: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)

    def scalar_fields(self) -> dict[str, str | int | float]:
        """Model fields usable as `{name}` placeholders, as FAI-PEP looks a name up in the model
        when the test does not define it."""
        return _scalars(self.raw)


@dataclass(frozen=True)
class TestSpec:
    index: int
    identifier: str
    metric: str
    iter: int | None = None
    warmup: int = 0
    commands: tuple[str, ...] = ()
    arguments: str | None = None
    framework_commands: dict[str, tuple[str, ...]] = field(default_factory=dict)
    framework_flags: dict[str, dict[str, str]] = field(default_factory=dict)
    preprocess: tuple[str, ...] = ()
    postprocess: tuple[str, ...] = ()
    inputs: dict[str, Any] = field(default_factory=dict)
    input_files: dict[str, tuple[ModelFile, ...]] = field(default_factory=dict)
    output_files: dict[str, tuple[ModelFile, ...]] = field(default_factory=dict)
    statistics: tuple[str, ...] = ()
    platform_args: dict[str, Any] = field(default_factory=dict)
    regression_threshold: float = DEFAULT_REGRESSION_THRESHOLD_PCT
    min_abs_change_us: float = DEFAULT_MIN_ABS_CHANGE_US
    alpha: float = DEFAULT_ALPHA
    min_rounds: int = DEFAULT_MIN_ROUNDS
    max_rounds: int = DEFAULT_MAX_ROUNDS
    round_statistic: str = DEFAULT_ROUND_STATISTIC
    round_design: str = DEFAULT_ROUND_DESIGN
    stop_when: str = DEFAULT_STOP_WHEN
    resource_thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RESOURCE_THRESHOLDS_PCT))
    constraints: RunConstraints | None = None
    target: EndpointTarget | None = None
    scenario: LoadScenario | None = None
    cold_start: bool = False
    optimizers: tuple[Optimizer, ...] = ()
    dataset: DatasetSpec | None = None
    accuracy_threshold: float = DEFAULT_ACCURACY_THRESHOLD_POINTS
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = "spec"

    @property
    def where(self) -> str:
        """How an error message names this test: its spec file and JSON path."""
        return f"{self.source}: tests[{self.index}]"

    def scalar_fields(self) -> dict[str, str | int | float]:
        """Fields a test defines that may be used as `{name}` placeholders."""
        return _scalars(self.raw)

    def commands_for(self, framework: str) -> tuple[str, ...]:
        """The test's commands; a `commands` object (FAI-PEP's per-framework form) gives the
        framework's own entry, and one without an entry for it is a mistake in the spec.

        An entry that is an object of flags (FAI-PEP's caffe2 form) leaves the framework's
        default command, with those flags added (see `flags_for`)."""
        if not (self.framework_commands or self.framework_flags):
            return self.commands
        if framework in self.framework_flags:
            return ()
        if framework not in self.framework_commands:
            known = ", ".join(sorted([*self.framework_commands, *self.framework_flags]))
            raise UserError(f"{self.where}.commands: no entry for framework {framework!r}; the spec has {known}")
        return self.framework_commands[framework]

    def flags_for(self, framework: str) -> list[str]:
        """`--name value` for each flag a `commands` object gives this framework's default command."""
        flags = self.framework_flags.get(framework, {})
        return [argument for name, value in flags.items() for argument in (f"--{name}", value)]

    def option(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)


@dataclass(frozen=True)
class BenchmarkSpec:
    path: Path
    model: ModelSpec
    tests: tuple[TestSpec, ...]
    raw: dict[str, Any]


def load_benchmarks(
    path: str | Path, string_map: Mapping[str, str] | None = None, per_arm: Collection[str] = ()
) -> list[BenchmarkSpec]:
    """Load one spec, or every spec named by a FAI-PEP benchmark list file (lists may name lists).

    `string_map` (FAI-PEP's `--string_map`): `{NAME}` in any string of a spec file becomes its value.
    `per_arm` names the tokens an arm's own string map gives (`--info`'s per-arm `string_map`): they
    are kept, for each arm's run to fill with its value (over `string_map`'s)."""
    kept = frozenset(per_arm)
    load_map = {name: value for name, value in (string_map or {}).items() if name not in kept}
    return _load(Path(path), (), {}, load_map, kept)


def _load(
    path: Path, including: tuple[Path, ...], meta: dict[str, Any], string_map: dict[str, str], per_arm: frozenset[str]
) -> list[BenchmarkSpec]:
    """`including`: the lists that led here, outermost first, so a list that names itself is caught;
    `meta`: what those lists' `meta` objects give every spec below them (an inner list's wins)."""
    document = _read_json(path)
    if isinstance(document, dict) and "benchmarks" in document and "tests" not in document:
        entries = document["benchmarks"]
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise UserError(f"{path}: benchmarks: expected a list of spec file paths")
        meta = {**meta, **_list_meta(document.get("meta", {}), path)}
        chain = (*including, Path(os.path.realpath(path)))
        specs: list[BenchmarkSpec] = []
        for entry in entries:
            included = path.parent / entry
            real = Path(os.path.realpath(included))
            if real in chain:
                cycle = [*chain[chain.index(real) :], real]
                names = " -> ".join(os.path.relpath(step, chain[0].parent) for step in cycle)
                raise UserError(f"{path}: benchmarks: the list includes itself: {names}")
            specs.extend(_load(included, chain, meta, string_map, per_arm))
        return specs
    document = replace_tokens(document, string_map)
    _refuse_per_arm_locations(document, per_arm, path)
    return [parse_spec(document, path, meta)]


def _refuse_per_arm_locations(document: Any, per_arm: frozenset[str], path: Path) -> None:
    """A fetched file's location may not take an arm's own value: both arms run the same model files,
    fetched once before either runs (FAI-PEP too fetches them, with `--string_map` alone applied)."""
    if not per_arm or not isinstance(document, dict):
        return
    model = document.get("model")
    groups = [("model.files", model.get("files"))] if isinstance(model, dict) else []
    tests = document.get("tests")
    for position, test in enumerate(tests if isinstance(tests, list) else []):
        if isinstance(test, dict):
            groups.append((f"tests[{position}].input_files", test.get("input_files")))
    for where, group in groups:
        for role, files in (group if isinstance(group, dict) else {}).items():
            for file in files if isinstance(files, list) else [files]:
                location = file.get("location") if isinstance(file, dict) else None
                for name in sorted(per_arm):
                    if isinstance(location, str) and "{" + name + "}" in location:
                        raise UserError(
                            f"{path.name}: {where}.{role}.location: {{{name}}} comes from --info's per-arm "
                            "string_map, but both arms run the same files, fetched before either runs; "
                            "give its value with --string_map"
                        )


def replace_tokens(value: Any, string_map: Mapping[str, str]) -> Any:
    """`value` with `{NAME}` replaced by `string_map[NAME]` in every string, keys left alone, as
    FAI-PEP's harness applies `--string_map` to a spec file before anything else reads it."""
    if isinstance(value, str):
        for name, replacement in string_map.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, list):
        return [replace_tokens(item, string_map) for item in value]
    if isinstance(value, dict):
        return {key: replace_tokens(item, string_map) for key, item in value.items()}
    return value


def _list_meta(meta: Any, path: Path) -> dict[str, Any]:
    """A list's `meta`: FAI-PEP merges it into every model it names (so `command_args` reaches
    every command, and other keys become model fields usable as placeholders)."""
    if not isinstance(meta, dict):
        raise UserError(f"{path}: meta: expected an object")
    return meta


def parse_spec(document: Any, path: Path, meta: dict[str, Any] | None = None) -> BenchmarkSpec:
    validate(document, path)
    if meta:
        document = {**document, "model": {**document["model"], **meta}}
        validate(document, path)
    model_doc = document["model"]
    _refuse(model_doc, _REFUSED_MODEL_FIELDS, f"{path.name}: model")
    command_args = model_doc.get("command_args", "")
    _check_quotes(command_args, f"{path.name}: model.command_args")
    model = ModelSpec(
        name=model_doc["name"],
        format=model_doc["format"],
        files=_files(model_doc.get("files", {}), f"{path.name}: model.files"),
        cooldown=float(model_doc.get("cooldown", 0.0)),
        repeat=int(model_doc.get("repeat", 1)),
        timeout=float(model_doc["timeout"]) if "timeout" in model_doc else None,
        command_args=command_args,
        preprocess=_step(model_doc, "preprocess", f"{path.name}: model"),
        postprocess=_step(model_doc, "postprocess", f"{path.name}: model"),
        raw=model_doc,
    )
    model_platform_args = model_doc.get("platform_args", {})
    test_docs = document["tests"]
    if model.format == "caffe2":
        # FAI-PEP leaves a generic test as written: no framework rewrites it.
        test_docs = [
            one
            for position, test in enumerate(test_docs)
            for one in ([test] if test.get("metric") == GENERIC_METRIC else _per_shape(test, path, position))
        ]
    tests = tuple(_test(index, test, path, model_platform_args) for index, test in enumerate(test_docs))
    return BenchmarkSpec(path=path, model=model, tests=tests, raw=document)


def _per_shape(test: dict[str, Any], path: Path, position: int) -> list[dict[str, Any]]:
    """FAI-PEP's caffe2 specs list several input shapes in one test and mean one test per shape
    (the i-th shape of every input together); `{ID}` then numbers the tests that result."""
    inputs = test.get("inputs")
    if not isinstance(inputs, dict) or not inputs:
        return [test]
    counts = {len(entry["shapes"]) for entry in inputs.values() if isinstance(entry, dict) and "shapes" in entry}
    if len(counts) > 1:
        raise UserError(f"{path.name}: tests[{position}].inputs: expected the same number of shapes for every input")
    count = counts.pop() if counts else 1
    if count <= 1:
        return [test]
    return [
        {**test, "inputs": {name: {**entry, "shapes": [entry["shapes"][shape]]} for name, entry in inputs.items()}}
        for shape in range(count)
    ]


def _refuse(doc: dict[str, Any], refused: dict[str, str], where: str) -> None:
    for name, reason in refused.items():
        if name in doc:
            raise UserError(f"{where}.{name}: {reason}")


def _step(doc: dict[str, Any], name: str, where: str) -> tuple[str, ...]:
    """A `preprocess`/`postprocess` step's commands (or its one `command`), their quotes checked now."""
    step = doc.get(name, {})
    if "files" in step:
        raise UserError(f"{where}.{name}.files: files of a step are not supported; name them in model.files")
    commands = tuple(step["commands"] if "commands" in step else [step["command"]] if "command" in step else [])
    for position, command in enumerate(commands):
        _check_quotes(command, f"{where}.{name}.commands[{position}]")
    return commands


def validate(document: Any, path: Path) -> None:
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(document))
    if error is not None:
        raise UserError(f"{path.name}: {_describe(error)}")


def validate_arm_target(document: Any, where: str) -> dict[str, str]:
    """An arm's own endpoint fields (`--info`'s `target` at `where`), checked by the spec schema's rules."""
    error = jsonschema.exceptions.best_match(_ARM_TARGET_VALIDATOR.iter_errors(document))
    if error is not None:
        raise UserError(_describe(error, root=where))
    return dict(document)


def _describe(error: jsonschema.ValidationError, root: str = "") -> str:
    """`root` names the checked document where it is part of something larger (a flag's JSON)."""
    where = ".".join(part for part in (root, _json_path(error.absolute_path)) if part)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        expected = error.schema["properties"][missing].get("x-expected", "a value")
        return f"{where + '.' if where else ''}{missing}: missing, expected {expected}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        fields = error.schema.get("properties", {})
        unexpected = sorted(set(error.instance) - set(fields))[0]
        return f"{where + '.' if where else ''}{unexpected}: unexpected field, expected one of {', '.join(fields)}"
    expected = error.schema.get("x-expected") if isinstance(error.schema, dict) else None
    if expected is None:
        return f"{where or '(top level)'}: {error.message}"
    return f"{where or '(top level)'}: expected {expected}, got {json.dumps(error.instance)[:80]}"


def _json_path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{path}: benchmark file not found") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read benchmark file ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path.name}: line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})") from None


def _scalars(doc: dict[str, Any]) -> dict[str, str | int | float]:
    return {
        key: value for key, value in doc.items() if isinstance(value, (str, int, float)) and not isinstance(value, bool)
    }


def _file(role: str, doc: dict[str, Any], where: str | None) -> ModelFile:
    """`where` names a file that is fetched (None: an output file, whose location aipep does not
    read), so a `{NAME}` left in its location is refused before anything is fetched."""
    location = doc["location"]
    token = _TOKEN.search(location)
    if where is not None and token:
        name = token.group(1)
        raise UserError(
            f"{where}.{role}.location: {{{name}}} is not defined; give its value with "
            f'--string_map \'{{"{name}": "..."}}\' (FAI-PEP defines no such token itself)'
        )
    return ModelFile(role=role, filename=doc["filename"], location=location, md5=doc.get("md5"))


def _files(doc: dict[str, Any], where: str) -> dict[str, ModelFile]:
    return {role: _file(role, f, where) for role, f in doc.items()}


def _file_lists(doc: dict[str, Any], where: str | None) -> dict[str, tuple[ModelFile, ...]]:
    """FAI-PEP gives a role one file object or a list of them; both become a tuple."""
    return {
        role: tuple(_file(role, f, where) for f in (files if isinstance(files, list) else [files]))
        for role, files in doc.items()
    }


def _commands(doc: dict[str, Any], where: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The test's commands as a list, or FAI-PEP's object keyed by framework (of command lists,
    or of flags for the framework's default command).

    A singular `command` is FAI-PEP's older spelling of a one-command list."""
    present = [name for name in ("commands", "command", "arguments") if name in doc]
    if len(present) > 1:
        raise UserError(f"{where}: expected one of 'commands', 'command' or 'arguments', got {' and '.join(present)}")
    commands = doc.get("commands", [doc["command"]] if "command" in doc else [])
    lists = commands if isinstance(commands, dict) else {"": commands}
    for key, entries in lists.items():
        for position, command in enumerate(entries if isinstance(entries, list) else ()):
            _check_quotes(command, f"{where}.commands{'.' + key if key else ''}[{position}]")
    if isinstance(commands, dict):
        return (), commands
    return tuple(commands), {}


def _test(index: int, doc: dict[str, Any], path: Path, model_platform_args: dict[str, Any]) -> TestSpec:
    """`model_platform_args`: FAI-PEP's fallback for a test that gives none of its own."""
    min_rounds = doc.get("min_rounds", DEFAULT_MIN_ROUNDS)
    max_rounds = doc.get("max_rounds", max(DEFAULT_MAX_ROUNDS, min_rounds))
    if max_rounds < min_rounds:
        raise UserError(
            f"{path.name}: tests[{index}].max_rounds: "
            f"expected an integer >= min_rounds ({min_rounds}), got {max_rounds}"
        )
    where = f"{path.name}: tests[{index}]"
    _refuse(doc, _REFUSED_TEST_FIELDS, where)
    _refuse_unhonoured_test_settings(doc, where)
    generic = doc["metric"] == GENERIC_METRIC
    if generic:
        _check_generic(doc, where)
    commands, by_framework = _commands(doc, where)
    input_files = _file_lists(doc.get("input_files", {}), f"{where}.input_files")
    for role, files in input_files.items():
        if len(files) != 1:
            raise UserError(f"{where}.input_files.{role}: expected one file object, got a list of {len(files)}")
    if "arguments" in doc:
        _check_quotes(doc["arguments"], f"{path.name}: tests[{index}].arguments")
    constraints = RunConstraints.from_json(doc.get("constraints"))
    if constraints is not None and constraints.in_docker != (constraints.image is not None):
        raise UserError(
            f'{where}.constraints.image: expected a Docker image name exactly when runner is "docker", '
            f"got image {constraints.image!r} with runner {constraints.runner or 'cgroups'!r}"
        )
    return TestSpec(
        index=index,
        identifier=doc["identifier"] if generic else doc["identifier"].replace("{ID}", str(index)),
        metric=doc["metric"],
        iter=doc.get("iter"),
        warmup=doc.get("warmup", 0),
        commands=commands,
        arguments=doc.get("arguments"),
        framework_commands={key: tuple(value) for key, value in by_framework.items() if isinstance(value, list)},
        framework_flags={
            key: {name: str(flag) for name, flag in value.items()}
            for key, value in by_framework.items()
            if isinstance(value, dict)
        },
        preprocess=_step(doc, "preprocess", where),
        postprocess=_step(doc, "postprocess", where),
        inputs=doc.get("inputs", {}),
        input_files=input_files,
        output_files=_file_lists(doc.get("output_files", {}), None),
        statistics=tuple(doc.get("statistics", ())),
        platform_args=doc.get("platform_args", model_platform_args),
        regression_threshold=float(doc.get("regression_threshold", DEFAULT_REGRESSION_THRESHOLD_PCT)),
        min_abs_change_us=float(doc.get("min_abs_change_us", DEFAULT_MIN_ABS_CHANGE_US)),
        alpha=float(doc.get("alpha", DEFAULT_ALPHA)),
        min_rounds=min_rounds,
        max_rounds=max_rounds,
        round_statistic=doc.get("round_statistic", DEFAULT_ROUND_STATISTIC),
        round_design=doc.get("round_design", DEFAULT_ROUND_DESIGN),
        stop_when=doc.get("stop_when", DEFAULT_STOP_WHEN),
        resource_thresholds={**DEFAULT_RESOURCE_THRESHOLDS_PCT, **doc.get("resource_thresholds", {})},
        constraints=constraints,
        target=EndpointTarget.from_json(doc.get("target")),
        scenario=LoadScenario.from_json(doc.get("scenario"), where),
        cold_start=bool(doc.get("cold_start", False)),
        optimizers=parse_optimizers(doc.get("optimizers", []), f"{where}.optimizers"),
        dataset=parse_dataset(doc.get("dataset"), f"{where}.dataset"),
        accuracy_threshold=float(doc.get("accuracy_threshold", DEFAULT_ACCURACY_THRESHOLD_POINTS)),
        raw=doc,
        source=path.name,
    )


def _refuse_unhonoured_test_settings(doc: dict[str, Any], where: str) -> None:
    """FAI-PEP settings inside test fields that would change what runs or what is kept."""
    profiler = doc.get("profiler")
    if isinstance(profiler, dict) and profiler.get("enabled"):
        raise UserError(f"{where}.profiler: FAI-PEP's profilers are not supported; expected enabled: false or none")
    for role, files in doc.get("output_files", {}).items():
        for file in files if isinstance(files, list) else [files]:
            for name, reason in _REFUSED_OUTPUT_FILE_FIELDS.items():
                if isinstance(file, dict) and file.get(name):
                    raise UserError(f"{where}.output_files.{role}.{name}: {reason}")


def _check_generic(doc: dict[str, Any], where: str) -> None:
    """A generic test's `commands` list is run as written: FAI-PEP turns no `command` or
    `arguments` into commands for it and composes no framework command, so a generic test
    without its own list would run nothing there."""
    for name in ("command", "arguments"):
        if name in doc:
            raise UserError(f"{where}.{name}: a generic test runs its 'commands' list as written; expected 'commands'")
    commands = doc.get("commands")
    if not isinstance(commands, list):
        raise UserError(f"{where}.commands: a generic test needs its own list of commands, got {commands!r:.80}")


def _check_quotes(command: str, where: str) -> None:
    """Commands are split like a shell line (never run by one) when a test runs; a quote left open
    would only surface then, as a traceback in the middle of a run."""
    try:
        shlex.split(command)
    except ValueError as exc:
        raise UserError(
            f"{where}: {str(exc).lower()} in {command!r:.80}; expected a command line with balanced quotes"
        ) from None
