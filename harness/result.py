"""The result record: one per test run, FAI-PEP's fields plus our comparison.

Everything downstream (screen, files, SQLite, the results server) reads this
one structure, so its JSON form is the contract between them.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

SUCCESS = "success"
FAILURE = "failure"


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
    summary: dict[str, float]
    num_runs: int
    from_tool_summary: bool = False
    op_type: str | None = None
    round_values: list[float] | None = None
    control_values: list[float] | None = None
    control_summary: dict[str, float] | None = None
    control_round_values: list[float] | None = None
    diff_summary: dict[str, float] | None = None
    comparison: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"{self.type} {self.metric}"

    def to_json(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}


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
        return {
            "id": self.id,
            "status": self.status,
            "failure": self.failure,
            "meta": self.meta,
            "data": {key: metric.to_json() for key, metric in self.data.items()},
        }

    @classmethod
    def from_json(cls, document: dict[str, Any], logs: dict[str, str] | None = None) -> RunResult:
        return cls(
            id=document["id"],
            status=document.get("status", SUCCESS),
            failure=document.get("failure"),
            meta=document["meta"],
            data={key: MetricResult(**value) for key, value in document.get("data", {}).items()},
            logs=logs or {},
        )
