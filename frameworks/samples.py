"""The measurements a framework hands to the harness."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSamples:
    """All values one process reported for one (type, metric) pair.

    `from_tool_summary` marks values that are a tool's own aggregate (one
    average per run, as TFLite's benchmark_model prints) rather than one value
    per iteration, so summaries are not mistaken for per-iteration spread.
    `op_type` is the kind of operator (`FusedConv`, `CONV_2D`) when the
    framework says it: node names after graph fusion rarely tell, and a user
    looking for "which operator" needs both.
    """

    type: str
    metric: str
    unit: str
    values: tuple[float, ...]
    from_tool_summary: bool = False
    op_type: str = ""

    @property
    def key(self) -> str:
        return f"{self.type} {self.metric}"


class ParsedOutput(list):
    """The samples a program printed, plus what could not be read from its output.

    It is a list of MetricSamples, so every framework and caller that wants only the
    samples keeps working; `problems` names each unreadable line or value. One bad line
    must not lose the measurements around it, so the harness records these next to the
    result instead of failing the run.
    """

    def __init__(self, samples: Iterable[MetricSamples] = (), problems: Iterable[str] = ()) -> None:
        super().__init__(samples)
        self.problems = list(problems)
