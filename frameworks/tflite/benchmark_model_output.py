"""Parse what TFLite's `benchmark_model` prints into samples.

The tool prints aggregates, not iterations: a `count=N first=.. curr=.. min=..
max=.. avg=.. std=..` line (microseconds) after warmup and again after the
timed runs, and, with `--enable_op_profiling=true`, a "Run Order" table per
profiled phase whose `[avg ms]` column is each operator's mean. Each becomes
ONE value per run marked `from_tool_summary`, so statistics treat it as a
round's figure, not as per-iteration spread.

The table's columns moved between releases (TF 2.x-era builds print a
`[start]` column before `[first]`; later ones dropped it), so a row is read
by the names in its header, never by position.
"""

from __future__ import annotations

import re

from aipep_core.names import NET
from frameworks.observer_lines import OutputParseError
from frameworks.samples import MetricSamples

_SUMMARY = re.compile(
    r"^(?:INFO: )?count=(?P<count>\d+) first=(?P<first>\S+) curr=\S+ min=\S+ max=\S+ avg=(?P<avg>\S+) std=\S+"
)
_TIMINGS = re.compile(r"Inference timings in us: .*Inference \(avg\): (?P<avg>[^,\s]+)")
_RUNS_HEADER = "Operator-wise Profiling Info for Regular Benchmark Runs"
_RUN_ORDER = "============================== Run Order =============================="
_HEADER_CELL = re.compile(r"\[([^\]]*)\]")
# Every column any release has printed before `[Name]`; each holds one
# whitespace-free cell, so a row splits into them and the name is the rest.
_KNOWN_COLUMNS = frozenset({"node type", "start", "first", "avg ms", "%", "cdf%", "mem KB", "times called"})
_NEEDED_COLUMNS = ("node type", "avg ms")


def looks_like_benchmark_model(text: str) -> bool:
    return any(_SUMMARY.match(line.strip()) for line in text.splitlines())


def parse_benchmark_model_output(text: str) -> list[MetricSamples]:
    """NET from the closing `Inference timings in us` line, operators from the regular-runs table.

    That line is printed only after the timed runs finish, so output cut off
    after the warmup `count=` line is refused rather than read as the warmup mean.
    """
    lines = [line.strip() for line in text.splitlines()]
    timings = [match for line in lines if (match := _TIMINGS.search(line))]
    if not timings:
        raise OutputParseError(
            "benchmark_model output: no 'Inference timings in us: ... Inference (avg): X' line (truncated output?)"
        )
    average = _number(timings[-1].group("avg"), "benchmark_model output: Inference (avg)")
    samples = [MetricSamples(NET, "latency", "us", (average,), from_tool_summary=True)]
    samples += _operator_samples(lines)
    return samples


def _operator_samples(lines: list[str]) -> list[MetricSamples]:
    if _RUNS_HEADER not in " ".join(lines):
        return []
    start = next(i for i, line in enumerate(lines) if _RUNS_HEADER in line)
    if start + 2 >= len(lines) or lines[start + 1] != _RUN_ORDER or not lines[start + 2].startswith("[node type]"):
        raise OutputParseError(f"benchmark_model output line {start + 2}: expected the 'Run Order' table header")
    columns = _table_columns(lines[start + 2], start + 3)
    node_type_at, average_at = columns.index("node type"), columns.index("avg ms")
    averages: dict[str, float] = {}
    node_types: dict[str, str] = {}
    for number, line in enumerate(lines[start + 3 :], start=start + 4):
        if not line:
            break
        cells = line.split(None, len(columns))
        if len(cells) < len(columns):
            raise OutputParseError(
                f"benchmark_model output line {number}: operator row has too few columns: {line!r:.80}"
            )
        node_type = cells[node_type_at]
        name = _operator_name(cells[len(columns)] if len(cells) > len(columns) else "", node_type)
        value = _number(cells[average_at], f"benchmark_model output line {number}") * 1000.0
        averages[name] = averages.get(name, 0.0) + value
        node_types.setdefault(name, node_type)
    else:
        raise OutputParseError("benchmark_model output: the operator table is cut off (no blank line after it)")
    if not averages:
        raise OutputParseError("benchmark_model output: the operator table has no rows")
    return [
        MetricSamples(name, "latency", "us", (value,), from_tool_summary=True, op_type=node_types[name])
        for name, value in averages.items()
    ]


def _table_columns(header: str, number: int) -> list[str]:
    """The header's columns before `[Name]`, refused unless every one is known and `[Name]` ends the row."""
    cells = _HEADER_CELL.findall(header)
    before_name = cells[:-1]
    mappable = (
        cells
        and cells[-1] == "Name"
        and set(before_name) <= _KNOWN_COLUMNS
        and len(set(before_name)) == len(before_name)
        and all(column in before_name for column in _NEEDED_COLUMNS)
    )
    if not mappable:
        raise OutputParseError(
            f"benchmark_model output line {number}: unknown operator table header {' '.join(header.split())!r:.160}; "
            f"expected [node type] and [avg ms] among {', '.join(sorted(_KNOWN_COLUMNS))}, then [Name]"
        )
    return before_name


def _operator_name(name: str, node_type: str) -> str:
    """`[Conv2d_0/Relu6]:0` → `Conv2d_0/Relu6`; an unnamed node is known by its type."""
    match = re.fullmatch(r"\[(.*)\](?::\d+)?", name.strip())
    cleaned = (match.group(1) if match else name).strip()
    return cleaned or node_type


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise OutputParseError(f"{where}: {text!r:.40} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")) or value < 0:
        raise OutputParseError(f"{where}: {text!r:.40} is not a finite non-negative number")
    return value
