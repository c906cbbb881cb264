"""The load a test puts on its system under test: an MLPerf LoadGen scenario and the SUT's shape.

Single-stream latency is one question; a team that serves a model asks what p99 is at a
given query rate, or how many samples a second it gets at full load. A test that carries
a `scenario` block asks one of those; the bench programs hand it to LoadGen unchanged, so
the spec's words are LoadGen's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aipep_core.errors import UserError

SINGLE_STREAM = "single_stream"
MULTI_STREAM = "multi_stream"
SERVER = "server"
OFFLINE = "offline"

# Short defaults: a round of an A/B runs the scenario once per arm, and rounds are many.
DEFAULT_MIN_DURATION_S = 2.0
DEFAULT_MIN_QUERIES = 16
DEFAULT_LATENCY_BOUND_MS = 100.0
DEFAULT_SAMPLES_PER_QUERY = 8

# What a round of each scenario reduces its latencies to (MLPerf's own yardsticks); offline
# and cold starts are judged on one number per process, so they have none.
LATENCY_ROUND_STATISTIC = {SINGLE_STREAM: "p90", MULTI_STREAM: "p90", SERVER: "p99"}


@dataclass(frozen=True)
class LoadScenario:
    """`target_qps`: the server's arrival rate, or offline's expected rate (LoadGen sizes the one
    query from it); `latency_bound_ms`: server's bound per query, multi_stream's per query of
    `samples_per_query` samples; `workers`: the SUT's pool; `max_batch`/`batch_timeout_ms`: its
    dynamic batching (1 = no batching)."""

    name: str
    target_qps: float | None = None
    latency_bound_ms: float | None = None
    samples_per_query: int = 1
    min_duration_s: float = DEFAULT_MIN_DURATION_S
    min_queries: int = DEFAULT_MIN_QUERIES
    workers: int = 1
    max_batch: int = 1
    batch_timeout_ms: float = 0.0

    @classmethod
    def from_json(cls, document: dict[str, Any] | None, where: str) -> LoadScenario | None:
        """The schema has checked each field; what is checked here spans fields. `where` names the
        test for the one-line error."""
        if not document:
            return None
        name = document["name"]
        here = f"{where}.scenario"
        if name == SERVER and "target_qps" not in document:
            raise UserError(f"{here}.target_qps: missing, the server scenario needs queries per second > 0")
        if "samples_per_query" in document and name != MULTI_STREAM:
            raise UserError(f"{here}.samples_per_query: only the multi_stream scenario takes it, this is {name}")
        if "latency_bound_ms" in document and name not in (SERVER, MULTI_STREAM):
            raise UserError(f"{here}.latency_bound_ms: only server and multi_stream take a bound, this is {name}")
        if "target_qps" in document and name not in (SERVER, OFFLINE):
            raise UserError(f"{here}.target_qps: only server and offline take a rate, this is {name}")
        bounded = name in (SERVER, MULTI_STREAM)
        return cls(
            name=name,
            target_qps=_float_or_none(document.get("target_qps")),
            latency_bound_ms=float(document.get("latency_bound_ms", DEFAULT_LATENCY_BOUND_MS)) if bounded else None,
            samples_per_query=int(
                document.get("samples_per_query", DEFAULT_SAMPLES_PER_QUERY if name == MULTI_STREAM else 1)
            ),
            min_duration_s=float(document.get("min_duration_s", DEFAULT_MIN_DURATION_S)),
            min_queries=int(document.get("min_queries", DEFAULT_MIN_QUERIES)),
            workers=int(document.get("workers", 1)),
            max_batch=int(document.get("max_batch", 1)),
            batch_timeout_ms=float(document.get("batch_timeout_ms", 0.0)),
        )

    def as_json(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value is not None}

    def program_flags(self) -> list[str]:
        """The bench programs' `--scenario ...` flags (see frameworks/loadgen_runner.py)."""
        flags = ["--scenario", self.name]
        for name, value in self.as_json().items():
            if name != "name":
                flags += [f"--{name}", str(value)]
        return flags


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
