"""Reading FAI-PEP observer lines: `<PREFIX> {json}` anywhere in a line.

Programs print one line per measurement (or one line with many `values`);
lines of other text are ignored, so logcat prefixes or headers do no harm.
Time units are normalised to microseconds so two arms always compare alike.
"""

from __future__ import annotations

import json
import math
import re

from frameworks.samples import MetricSamples
from harness.errors import RunFailure

PREFIXES = ("PyTorchObserver", "Caffe2Observer", "AIPEP")
_LINE = re.compile(r"(?:^|\s|:)(" + "|".join(PREFIXES) + r") ([\[{].*)$")

_TO_MICROSECONDS = {"us": 1.0, "ms": 1e3, "s": 1e6, "ns": 1e-3}


class OutputParseError(RunFailure):
    """Program output that claims to be an observer line but cannot be read."""


def parse_observer_output(text: str) -> list[MetricSamples]:
    """Collect every observer measurement in `text`, grouped by (type, metric)."""
    collected: dict[tuple[str, str], tuple[str, list[float]]] = {}
    op_types: dict[tuple[str, str], str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.search(line.rstrip())
        if not match:
            continue
        try:
            payload = json.loads(match.group(2))
        except json.JSONDecodeError as exc:
            raise OutputParseError(
                f"output line {number}: {match.group(1)} line is not valid JSON ({exc.msg}): {line[:120]!r}"
            ) from None
        for name, metric, unit, values, op_type in _measurements(payload, number):
            unit, values = _normalise(unit, values)
            known_unit, known_values = collected.setdefault((name, metric), (unit, []))
            if known_unit != unit:
                raise OutputParseError(
                    f"output line {number}: {name} {metric} switches unit from {known_unit} to {unit}"
                )
            known_values.extend(values)
            if op_type:
                op_types.setdefault((name, metric), op_type)
    return [
        MetricSamples(name, metric, unit, tuple(values), op_type=op_types.get((name, metric), ""))
        for (name, metric), (unit, values) in collected.items()
    ]


def _measurements(payload: object, number: int):
    if not isinstance(payload, dict):
        raise OutputParseError(f"output line {number}: expected a JSON object, got {type(payload).__name__}")
    if "type" in payload and "metric" in payload:
        yield _flat(payload, number)
        return
    # Older nested form: {"NET": {"latency": {"value": .., "unit": ..}}}
    for op_type, metrics in payload.items():
        if not isinstance(metrics, dict):
            raise OutputParseError(f"output line {number}: {op_type!r} should map metrics to values")
        for metric, entry in metrics.items():
            if not isinstance(entry, dict):
                raise OutputParseError(f"output line {number}: {op_type} {metric} should be an object")
            yield _flat({"type": op_type, "metric": metric, **entry}, number)


def _flat(entry: dict, number: int) -> tuple[str, str, str, list[float], str]:
    """FAI-PEP's fields, plus our optional `op_type` (the operator kind behind a node name)."""
    where = f"output line {number}: {entry.get('type')} {entry.get('metric')}"
    if "values" in entry:
        raw = entry["values"]
        if not isinstance(raw, list):
            raise OutputParseError(f"{where}: 'values' should be a list")
    elif "value" in entry:
        raw = [entry["value"]]
    else:
        raise OutputParseError(f"{where}: has neither 'value' nor 'values'")
    values = []
    for item in raw:
        try:
            value = float(item)
        except (TypeError, ValueError):
            raise OutputParseError(f"{where}: value {item!r} is not a number") from None
        if not math.isfinite(value):
            raise OutputParseError(f"{where}: value {item!r} is not finite")
        values.append(value)
    op_type = entry.get("op_type", "")
    if not isinstance(op_type, str):
        raise OutputParseError(f"{where}: 'op_type' should be a string, got {op_type!r}")
    return str(entry["type"]), str(entry["metric"]), str(entry.get("unit", "")), values, op_type


def _normalise(unit: str, values: list[float]) -> tuple[str, list[float]]:
    factor = _TO_MICROSECONDS.get(unit)
    if factor is None or factor == 1.0:
        return unit, values
    return "us", [value * factor for value in values]
