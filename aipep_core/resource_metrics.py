"""The names of resource-use metrics, shared by the platforms that measure them and the specs that judge them.

Each gets its own regression threshold because their noise differs by orders of
magnitude: peak memory repeats to the page, context switches swing by a quarter from
one run to the next.
"""

from __future__ import annotations

# The result's data entries are keyed "<type> <metric>"; resource use is this type.
PROCESS = "PROCESS"

# metric -> unit, in the order reports show them.
RESOURCE_METRICS = {
    "peak_rss": "MB",
    "cpu_time": "ms",
    "cpu_util": "%",
    "ctx_switches": "count",
    "read_bytes": "bytes",
    "write_bytes": "bytes",
    "threads": "count",
}

# Percent change that counts as a regression, per metric, unless a test's `resource_thresholds` says otherwise.
DEFAULT_RESOURCE_THRESHOLDS_PCT = {
    "peak_rss": 5.0,
    "cpu_time": 5.0,
    "cpu_util": 10.0,
    "ctx_switches": 25.0,
    "read_bytes": 10.0,
    "write_bytes": 10.0,
    "threads": 10.0,
}
