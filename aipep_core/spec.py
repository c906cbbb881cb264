"""Loading and validating FAI-PEP-compatible benchmark specifications.

Everything is checked against `spec_schema.json` before anything runs, so a
mistake costs the user one line, not a half-finished benchmark.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from aipep_core.errors import UserError
from aipep_core.resource_metrics import DEFAULT_RESOURCE_THRESHOLDS_PCT
from aipep_core.run_constraints import RunConstraints

DEFAULT_REGRESSION_THRESHOLD_PCT = 2.0
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_ROUNDS = 8
DEFAULT_MAX_ROUNDS = 40

# The detection benchmark (benchmarks/detection_quality.py) replays the same recorded rounds
# through every statistic: on a shared 2-core machine the minimum over a process's iterations
# found the most injected slowdowns at no cost in false positives, then p10, the median and
# the trimmed mean. Background work only ever adds time to an iteration, so the fastest one
# is the closest to what the code itself costs.
DEFAULT_ROUND_STATISTIC = "min"

_SCHEMA = json.loads((Path(__file__).with_name("spec_schema.json")).read_text())
_VALIDATOR = jsonschema.Draft202012Validator(_SCHEMA)


@dataclass(frozen=True)
class ModelFile:
    role: str
    filename: str
    location: str
    md5: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    format: str
    files: dict[str, ModelFile]
    cooldown: float = 0.0
    repeat: int = 1


@dataclass(frozen=True)
class TestSpec:
    index: int
    identifier: str
    metric: str
    iter: int
    warmup: int = 0
    commands: tuple[str, ...] = ()
    arguments: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    input_files: dict[str, tuple[ModelFile, ...]] = field(default_factory=dict)
    output_files: dict[str, tuple[ModelFile, ...]] = field(default_factory=dict)
    statistics: tuple[str, ...] = ()
    platform_args: dict[str, Any] = field(default_factory=dict)
    regression_threshold: float = DEFAULT_REGRESSION_THRESHOLD_PCT
    alpha: float = DEFAULT_ALPHA
    min_rounds: int = DEFAULT_MIN_ROUNDS
    max_rounds: int = DEFAULT_MAX_ROUNDS
    round_statistic: str = DEFAULT_ROUND_STATISTIC
    resource_thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RESOURCE_THRESHOLDS_PCT))
    constraints: RunConstraints | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = "spec"

    @property
    def where(self) -> str:
        """How an error message names this test: its spec file and JSON path."""
        return f"{self.source}: tests[{self.index}]"

    def scalar_fields(self) -> dict[str, str | int | float]:
        """Fields a test defines that may be used as `{name}` placeholders."""
        return {
            key: value
            for key, value in self.raw.items()
            if isinstance(value, (str, int, float)) and not isinstance(value, bool)
        }

    def option(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)


@dataclass(frozen=True)
class BenchmarkSpec:
    path: Path
    model: ModelSpec
    tests: tuple[TestSpec, ...]
    raw: dict[str, Any]


def load_benchmarks(path: str | Path) -> list[BenchmarkSpec]:
    """Load one spec, or every spec named by a FAI-PEP benchmark list file (lists may name lists)."""
    return _load(Path(path), ())


def _load(path: Path, including: tuple[Path, ...]) -> list[BenchmarkSpec]:
    """`including`: the lists that led here, outermost first, so a list that names itself is caught."""
    document = _read_json(path)
    if isinstance(document, dict) and "benchmarks" in document and "tests" not in document:
        entries = document["benchmarks"]
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise UserError(f"{path}: benchmarks: expected a list of spec file paths")
        chain = (*including, Path(os.path.realpath(path)))
        specs: list[BenchmarkSpec] = []
        for entry in entries:
            included = path.parent / entry
            real = Path(os.path.realpath(included))
            if real in chain:
                cycle = [*chain[chain.index(real) :], real]
                names = " -> ".join(os.path.relpath(step, chain[0].parent) for step in cycle)
                raise UserError(f"{path}: benchmarks: the list includes itself: {names}")
            specs.extend(_load(included, chain))
        return specs
    return [parse_spec(document, path)]


def parse_spec(document: Any, path: Path) -> BenchmarkSpec:
    validate(document, path)
    model_doc = document["model"]
    model = ModelSpec(
        name=model_doc["name"],
        format=model_doc["format"],
        files=_files(model_doc.get("files", {})),
        cooldown=float(model_doc.get("cooldown", 0.0)),
        repeat=int(model_doc.get("repeat", 1)),
    )
    tests = tuple(_test(index, test, path) for index, test in enumerate(document["tests"]))
    return BenchmarkSpec(path=path, model=model, tests=tests, raw=document)


def validate(document: Any, path: Path) -> None:
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(document))
    if error is not None:
        raise UserError(f"{path.name}: {_describe(error)}")


def _describe(error: jsonschema.ValidationError) -> str:
    where = _json_path(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1]
        expected = error.schema["properties"][missing].get("x-expected", "a value")
        return f"{where + '.' if where else ''}{missing}: missing, expected {expected}"
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


def _files(doc: dict[str, Any]) -> dict[str, ModelFile]:
    return {
        role: ModelFile(role=role, filename=f["filename"], location=f["location"], md5=f.get("md5"))
        for role, f in doc.items()
    }


def _file_lists(doc: dict[str, Any]) -> dict[str, tuple[ModelFile, ...]]:
    return {
        role: tuple(
            ModelFile(role=role, filename=f["filename"], location=f["location"], md5=f.get("md5")) for f in files
        )
        for role, files in doc.items()
    }


def _test(index: int, doc: dict[str, Any], path: Path) -> TestSpec:
    min_rounds = doc.get("min_rounds", DEFAULT_MIN_ROUNDS)
    max_rounds = doc.get("max_rounds", max(DEFAULT_MAX_ROUNDS, min_rounds))
    if max_rounds < min_rounds:
        raise UserError(
            f"{path.name}: tests[{index}].max_rounds: "
            f"expected an integer >= min_rounds ({min_rounds}), got {max_rounds}"
        )
    if doc.get("commands") and "arguments" in doc:
        raise UserError(f"{path.name}: tests[{index}]: expected either 'commands' or 'arguments', not both")
    for position, command in enumerate(doc.get("commands", ())):
        _check_quotes(command, f"{path.name}: tests[{index}].commands[{position}]")
    if "arguments" in doc:
        _check_quotes(doc["arguments"], f"{path.name}: tests[{index}].arguments")
    return TestSpec(
        index=index,
        identifier=doc["identifier"].replace("{ID}", str(index)),
        metric=doc["metric"],
        iter=doc["iter"],
        warmup=doc.get("warmup", 0),
        commands=tuple(doc.get("commands", ())),
        arguments=doc.get("arguments"),
        inputs=doc.get("inputs", {}),
        input_files=_file_lists(doc.get("input_files", {})),
        output_files=_file_lists(doc.get("output_files", {})),
        statistics=tuple(doc.get("statistics", ())),
        platform_args=doc.get("platform_args", {}),
        regression_threshold=float(doc.get("regression_threshold", DEFAULT_REGRESSION_THRESHOLD_PCT)),
        alpha=float(doc.get("alpha", DEFAULT_ALPHA)),
        min_rounds=min_rounds,
        max_rounds=max_rounds,
        round_statistic=doc.get("round_statistic", DEFAULT_ROUND_STATISTIC),
        resource_thresholds={**DEFAULT_RESOURCE_THRESHOLDS_PCT, **doc.get("resource_thresholds", {})},
        constraints=RunConstraints.from_json(doc.get("constraints")),
        raw=doc,
        source=path.name,
    )


def _check_quotes(command: str, where: str) -> None:
    """Commands are split like a shell line (never run by one) when a test runs; a quote left open
    would only surface then, as a traceback in the middle of a run."""
    try:
        shlex.split(command)
    except ValueError as exc:
        raise UserError(
            f"{where}: {str(exc).lower()} in {command!r:.80}; expected a command line with balanced quotes"
        ) from None
