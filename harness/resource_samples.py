"""A process's resource use as samples, so memory and CPU get verdicts like latency.

Each process contributes one value per metric; in an A/B run the round statistic then
reduces an arm's processes of one round to one value, paired with the other arm's.
"""

from __future__ import annotations

from aipep_core.resource_metrics import PROCESS, RESOURCE_METRICS
from frameworks.samples import MetricSamples
from platforms.base import ProcessResult


def resource_samples(result: ProcessResult) -> list[MetricSamples]:
    if result.usage is None:
        return []
    return [
        MetricSamples(type=PROCESS, metric=metric, unit=RESOURCE_METRICS[metric], values=(value,))
        for metric, value in result.usage.metrics().items()
    ]


def is_resource_key(key: str) -> bool:
    return key.split(" ", 1)[0] == PROCESS
