"""Reading FAI-PEP observer lines: `<PREFIX> {json}` anywhere in a line.

Programs print one line per measurement (or one line with many `values`);
lines of other text are ignored, so logcat prefixes or headers do no harm.
Time units are normalised to microseconds so two arms always compare alike.

A line that claims to be an observer line but cannot be read (broken JSON, a
value that is not a finite number, a unit that changes) is never turned into a
number and never costs the other lines: it is left out and named in the
output's `problems`. Zeros and negative values are measurements like any other;
whether they can be compared is for the statistics to say.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator

from aipep_core.errors import RunFailure
from aipep_core.program_output import PREFIXES
from frameworks.samples import MetricSamples, ParsedOutput

_LINE = re.compile(r"(?:^|\s|:)(" + "|".join(PREFIXES) + r") ([\[{].*)$")

_TO_MICROSECONDS = {"us": 1.0, "ms": 1e3, "s": 1e6, "ns": 1e-3}

# A program printing a million bad lines must not fill memory with complaints about them.
MAX_PROBLEMS = 20


class OutputParseError(RunFailure):
    """Program output that claims to be an observer line but cannot be read."""


class _Problems:
    """The first MAX_PROBLEMS problems word for word, and a count of the rest."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.more = 0

    def add(self, problem: str) -> None:
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(problem)
        else:
            self.more += 1

    def listed(self) -> list[str]:
        return self.kept + ([f"... and {self.more} more unreadable observer lines or values"] if self.more else [])


def parse_observer_output(text: str) -> ParsedOutput:
    """Collect every readable observer measurement in `text`, grouped by (type, metric)."""
    collected: dict[tuple[str, str], tuple[str, list[float]]] = {}
    op_types: dict[tuple[str, str], str] = {}
    problems = _Problems()
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.search(line.rstrip())
        if not match:
            continue
        try:
            payload = json.loads(match.group(2))
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            problems.add(f"output line {number}: {match.group(1)} line is not valid JSON ({reason}): {line[:120]!r}")
            continue
        for name, metric, unit, values, op_type in _measurements(payload, number, problems):
            if not values:
                continue
            known_unit, known_values = collected.setdefault((name, metric), (unit, []))
            if known_unit != unit:
                problems.add(f"output line {number}: {name} {metric} switches unit from {known_unit} to {unit}")
                continue
            known_values.extend(values)
            if op_type:
                op_types.setdefault((name, metric), op_type)
    samples = [
        MetricSamples(name, metric, unit, tuple(values), op_type=op_types.get((name, metric), ""))
        for (name, metric), (unit, values) in collected.items()
        if values
    ]
    return ParsedOutput(samples, problems.listed())


Measurement = tuple[str, str, str, list[float], str]


def _measurements(payload: object, number: int, problems: _Problems) -> Iterator[Measurement]:
    if not isinstance(payload, dict):
        problems.add(f"output line {number}: expected a JSON object, got {type(payload).__name__}")
        return
    if "type" in payload and "metric" in payload:
        entries = [payload]
    else:
        # Older nested form: {"NET": {"latency": {"value": .., "unit": ..}}}
        entries = []
        for op_type, metrics in payload.items():
            if not isinstance(metrics, dict):
                problems.add(f"output line {number}: {op_type!r} should map metrics to values")
                continue
            for metric, entry in metrics.items():
                if isinstance(entry, dict):
                    entries.append({"type": op_type, "metric": metric, **entry})
                else:
                    problems.add(f"output line {number}: {op_type} {metric} should be an object")
    for entry in entries:
        try:
            yield _flat(entry, number, problems)
        except OutputParseError as problem:
            problems.add(str(problem))


def _flat(entry: dict, number: int, problems: _Problems) -> Measurement:
    """FAI-PEP's fields, plus our optional `op_type` (the operator kind behind a node name).

    A value that is not a finite number (also after conversion to microseconds) is
    dropped and named; the entry's other values stay.
    """
    where = f"output line {number}: {entry.get('type')} {entry.get('metric')}"
    if "values" in entry:
        raw = entry["values"]
        if not isinstance(raw, list):
            raise OutputParseError(f"{where}: 'values' should be a list")
    elif "value" in entry:
        raw = [entry["value"]]
    else:
        raise OutputParseError(f"{where}: has neither 'value' nor 'values'")
    op_type = entry.get("op_type", "")
    if not isinstance(op_type, str):
        raise OutputParseError(f"{where}: 'op_type' should be a string, got {op_type!r:.80}")
    unit = str(entry.get("unit", ""))
    factor = _TO_MICROSECONDS.get(unit, 1.0)
    values = []
    for item in raw:
        try:
            value = float(item) * factor
        except (TypeError, ValueError, OverflowError):
            problems.add(f"{where}: value {item!r:.80} is not a number; left out")
            continue
        if not math.isfinite(value):
            scaled = " once in microseconds" if factor != 1.0 else ""
            problems.add(f"{where}: value {item!r:.80} is not finite{scaled}; left out")
            continue
        values.append(value)
    return str(entry["type"]), str(entry["metric"]), "us" if unit in _TO_MICROSECONDS else unit, values, op_type
