"""Model variants and the data to judge them on: a test's `optimizers` and `dataset` blocks.

A quantized or half-precision model is a different model on the same runtime, so the spec
names the steps that make it (Kenning's dataset -> model -> optimizers -> runtime path) and
an arm of a job may name its own steps: "fp32 against int8" is then one A/B. The same
parser reads both places, so a mistake reads the same wherever it was made: one line
naming where and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aipep_core.errors import UserError

QUANTIZE = "onnx_quantize"
FLOAT16 = "onnx_float16"
GRAPH_OPTIMIZE = "onnx_graph_optimize"
OPTIMIZER_TYPES = (QUANTIZE, FLOAT16, GRAPH_OPTIMIZE)
QUANTIZE_MODES = ("dynamic", "static")
WEIGHT_TYPES = ("int8", "uint8")
GRAPH_LEVELS = ("basic", "extended", "all")
DATASET_SPLITS = ("train", "test")
# The metric of the harness's quality pass (one process per arm writing its outputs); a spec
# never names it, the harness gives it to a copy of a test whose arms are judged on quality.
QUALITY_METRIC = "quality"

# Which keys each optimizer takes, with its default where it has one.
_OPTIMIZER_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    QUANTIZE: {"mode": QUANTIZE_MODES, "weight_type": WEIGHT_TYPES},
    FLOAT16: {},
    GRAPH_OPTIMIZE: {"level": GRAPH_LEVELS},
}
_DEFAULTS = {"mode": "dynamic", "weight_type": "int8", "level": "extended"}

# Accuracy changes are judged in points of percent: a drop of half a point is what a team
# shipping a quantized model would still accept (Kenning reports accuracy to that grain).
DEFAULT_ACCURACY_THRESHOLD_POINTS = 0.5


@dataclass(frozen=True)
class Optimizer:
    """One step that turns a model file into another; `settings` is all that decides its output."""

    type: str
    settings: tuple[tuple[str, str], ...] = ()

    def setting(self, name: str) -> str:
        return dict(self.settings)[name]

    def describe(self) -> str:
        return " ".join([self.type, *(f"{name}={value}" for name, value in self.settings)])

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, **dict(self.settings)}


@dataclass(frozen=True)
class DatasetSpec:
    """A labelled dataset a package ships, its split and how many samples to use (None: all)."""

    name: str
    split: str = "test"
    limit: int | None = None


def parse_optimizers(value: Any, where: str) -> tuple[Optimizer, ...]:
    """`optimizers` as a tuple of steps, in order; `where` names the field in the message."""
    if not isinstance(value, list):
        raise UserError(f"{where}: expected a list of optimizer objects, got {_shown(value)}")
    return tuple(_optimizer(entry, f"{where}[{index}]") for index, entry in enumerate(value))


def _optimizer(entry: Any, where: str) -> Optimizer:
    if not isinstance(entry, dict) or "type" not in entry:
        raise UserError(f"{where}: expected an object with 'type' (one of {', '.join(OPTIMIZER_TYPES)})")
    kind = entry["type"]
    if kind not in _OPTIMIZER_FIELDS:
        raise UserError(f"{where}.type: expected one of {', '.join(OPTIMIZER_TYPES)}, got {_shown(kind)}")
    fields = _OPTIMIZER_FIELDS[kind]
    unknown = sorted(set(entry) - {"type", *fields})
    if unknown:
        taken = ", ".join(fields) or "no settings"
        raise UserError(f"{where}.{unknown[0]}: not a setting of {kind} (it takes {taken})")
    settings = []
    for name, allowed in fields.items():
        value = entry.get(name, _DEFAULTS[name])
        if value not in allowed:
            raise UserError(f"{where}.{name}: expected one of {', '.join(allowed)}, got {_shown(value)}")
        settings.append((name, value))
    return Optimizer(kind, tuple(settings))


def parse_dataset(value: Any, where: str) -> DatasetSpec | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
        raise UserError(f"{where}: expected an object with 'name' (and optionally 'split', 'limit')")
    unknown = sorted(set(value) - {"name", "split", "limit"})
    if unknown:
        raise UserError(f"{where}.{unknown[0]}: unknown field, expected 'name', 'split' or 'limit'")
    split = value.get("split", "test")
    if split not in DATASET_SPLITS:
        raise UserError(f"{where}.split: expected one of {', '.join(DATASET_SPLITS)}, got {_shown(split)}")
    limit = value.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise UserError(f"{where}.limit: expected an integer >= 1, got {_shown(limit)}")
    return DatasetSpec(value["name"], split, limit)


def _shown(value: Any) -> str:
    return f"{value!r:.80}"
