"""The result record: one per test run, FAI-PEP's fields plus our comparison, in one versioned model.

Everything downstream (screen, files, SQLite, the remote reporter, the results server)
writes and reads this one structure, so its JSON form is the contract between them;
`result_record.schema.json` describes that form and `result_record_schema.py` checks a
document against it. Every record written carries `schema_version`; a record without
one was written before versions existed (version 1) and is upgraded when read, so
results already in a store, a folder or an outbox keep working.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aipep_core.verdict import Verdict

SCHEMA_VERSION = 2
# A record without `schema_version` was written before versions existed.
FIRST_SCHEMA_VERSION = 1

SUCCESS = "success"
FAILURE = "failure"

# The comparison's statistics are always written (null when there is none), so a reader
# sees "no p-value" rather than a missing field; `note` and `tolerance` belong to some
# comparisons only.
_STATISTICS = ("estimate_pct", "ci_low_pct", "ci_high_pct", "p_value", "q_value")


class UnknownSchemaVersion(ValueError):
    """A record written by a newer aipep than this one: reading it as ours would misread it."""


@dataclass
class MetricComparison:
    """What the A/B comparison (or the error tolerance) concluded for one metric.

    The numbers are percent changes of treatment against control; they are None where a
    metric could not be measured as ratios (`note` says why) or where the comparison is
    an error metric's tolerance check. `abs_change_us` is the estimate in microseconds
    (applied to the control's level), for operator latencies, where a floor decides.
    """

    verdict: Verdict
    rounds: int | None = None
    estimate_pct: float | None = None
    ci_low_pct: float | None = None
    ci_high_pct: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    note: str | None = None
    tolerance: float | None = None
    abs_change_us: float | None = None

    @property
    def measured(self) -> bool:
        """False when no estimate was formed; more rounds would not change that."""
        return self.estimate_pct is not None

    @property
    def why_unmeasured(self) -> str | None:
        """The note of an inconclusive verdict that no ratio could be formed for (a timer's resolution,
        rounds without the metric); None otherwise, as the accuracy pass's notes go with verdicts it reached."""
        if self.verdict is Verdict.INCONCLUSIVE and self.estimate_pct is None and self.note:
            return self.note
        return None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {name: getattr(self, name) for name in _STATISTICS}
        document["rounds"] = self.rounds
        document["verdict"] = self.verdict.value
        if self.note is not None:
            document["note"] = self.note
        if self.tolerance is not None:
            document["tolerance"] = self.tolerance
        if self.abs_change_us is not None:
            document["abs_change_us"] = self.abs_change_us
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> MetricComparison:
        return cls(
            verdict=Verdict(document["verdict"]),
            rounds=document.get("rounds"),
            note=document.get("note"),
            tolerance=document.get("tolerance"),
            abs_change_us=document.get("abs_change_us"),
            **{name: document.get(name) for name in _STATISTICS},
        )


@dataclass
class MetricResult:
    """One (type, metric) pair of one test: `values` are the treatment's.

    In an A/B run `round_values` hold the per-round statistic the comparison
    used, paired by index with `control_round_values`.
    """

    type: str
    metric: str
    unit: str
    values: list[float]
    summary: dict[str, float | None]
    num_runs: int
    from_tool_summary: bool = False
    op_type: str | None = None
    round_values: list[float] | None = None
    control_values: list[float] | None = None
    control_summary: dict[str, float | None] | None = None
    control_round_values: list[float] | None = None
    diff_summary: dict[str, float | None] | None = None
    comparison: MetricComparison | None = None

    @property
    def key(self) -> str:
        return f"{self.type} {self.metric}"

    def to_json(self) -> dict[str, Any]:
        document = {
            "type": self.type,
            "metric": self.metric,
            "unit": self.unit,
            "values": self.values,
            "summary": self.summary,
            "num_runs": self.num_runs,
            "from_tool_summary": self.from_tool_summary,
            "op_type": self.op_type,
            "round_values": self.round_values,
            "control_values": self.control_values,
            "control_summary": self.control_summary,
            "control_round_values": self.control_round_values,
            "diff_summary": self.diff_summary,
            "comparison": None if self.comparison is None else self.comparison.to_json(),
        }
        return {name: value for name, value in document.items() if value is not None}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> MetricResult:
        comparison = document.get("comparison")
        return cls(
            type=document["type"],
            metric=document["metric"],
            unit=document["unit"],
            values=list(document["values"]),
            summary=dict(document["summary"]),
            num_runs=document["num_runs"],
            from_tool_summary=bool(document.get("from_tool_summary", False)),
            op_type=document.get("op_type"),
            round_values=_list_or_none(document.get("round_values")),
            control_values=_list_or_none(document.get("control_values")),
            control_summary=_dict_or_none(document.get("control_summary")),
            control_round_values=_list_or_none(document.get("control_round_values")),
            diff_summary=_dict_or_none(document.get("diff_summary")),
            comparison=None if comparison is None else MetricComparison.from_json(comparison),
        )


def unmeasured_notes(metrics: Iterable[MetricResult]) -> list[str]:
    """One line per metric whose verdict came without numbers, saying why: a row of dashes does not."""
    return [
        f"{metric.key}: {metric.comparison.why_unmeasured}"
        for metric in metrics
        if metric.comparison is not None and metric.comparison.why_unmeasured
    ]


@dataclass
class RunResult:
    """One test on one device for one commit (or one A/B pair of commits)."""

    meta: dict[str, Any]
    data: dict[str, MetricResult] = field(default_factory=dict)
    status: str = SUCCESS
    failure: str | None = None
    logs: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def ok(self) -> bool:
        return self.status == SUCCESS

    def to_json(self) -> dict[str, Any]:
        """The record as JSON values; logs travel beside it (files, store rows), never inside it."""
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "status": self.status,
            "failure": self.failure,
            "meta": self.meta,
            "data": {key: metric.to_json() for key, metric in self.data.items()},
        }

    @classmethod
    def from_json(cls, document: dict[str, Any], logs: dict[str, str] | None = None) -> RunResult:
        """Read a record of any version this aipep knows; it is expected to match the schema.

        The server checks a record it did not write (result_record_schema.check_record)
        before reading it; the harness reads only what it wrote.
        """
        document = upgraded(document)
        return cls(
            id=document["id"],
            status=document.get("status", SUCCESS),
            failure=document.get("failure"),
            meta=document["meta"],
            data={key: MetricResult.from_json(metric) for key, metric in (document.get("data") or {}).items()},
            logs=dict(logs or {}),
        )


def schema_version(document: dict[str, Any]) -> int:
    """The version a record was written in; an unknown newer one is refused, not guessed at."""
    version = document.get("schema_version", FIRST_SCHEMA_VERSION)
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise UnknownSchemaVersion(
            f"schema_version: expected {SCHEMA_VERSION} or lower (the newest result record this aipep reads), "
            f"got {version}"
        )
    return version


def _from_version_1(document: dict[str, Any]) -> dict[str, Any]:
    """Version 2 only added `schema_version`: the fields of a version 1 record read as they are."""
    return {**document, "schema_version": 2}


# What turns a record of version N into version N + 1; a record is brought up step by step.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_version_1}


def upgraded(document: dict[str, Any]) -> dict[str, Any]:
    """The record in the current version's shape (the same document when it already is)."""
    version = schema_version(document)
    while version < SCHEMA_VERSION:
        document = UPGRADES[version](document)
        version += 1
    return document


def _list_or_none(values: list[float] | None) -> list[float] | None:
    return None if values is None else list(values)


def _dict_or_none(summary: dict[str, float | None] | None) -> dict[str, float | None] | None:
    return None if summary is None else dict(summary)
