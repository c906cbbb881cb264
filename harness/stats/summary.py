"""Descriptive summaries: the FAI-PEP figures users read, and the per-round statistic.

The FAI-PEP keys (mean, p0, p10, p50, p90, p100, stdev, MAD, cv) are kept verbatim so
dashboards and scripts written for FAI-PEP results keep working. They describe the
samples; they are not what the verdicts are based on (see paired.py).
"""

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from aipep_core.spec import DEFAULT_ROUND_STATISTIC
from harness.stats._checks import finite_array
from harness.stats.errors import StatisticsInputError

SUMMARY_KEYS = ("mean", "p0", "p10", "p50", "p90", "p100", "stdev", "MAD", "cv")

# Trimming 20% from each end keeps the trimmed mean's efficiency near the mean's on clean
# data while ignoring the slow first iterations and preemption spikes of a round.
_TRIM_FRACTION = 0.2


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Summarise raw samples with exactly the keys FAI-PEP users expect.

    stdev is the sample standard deviation (ddof=1), 0 for a single value; MAD is the
    unscaled median absolute deviation; percentiles interpolate linearly like numpy.
    cv is stdev/mean; it is 0 when all values are equal and NaN when the values straddle
    a mean of exactly 0, where a relative spread has no meaning.
    """
    array = finite_array(values, "values")
    mean = float(np.mean(array))
    p0, p10, p50, p90, p100 = (float(v) for v in np.percentile(array, [0, 10, 50, 90, 100]))
    stdev = float(np.std(array, ddof=1)) if array.size > 1 else 0.0
    mad = float(np.median(np.abs(array - np.median(array))))
    if stdev == 0.0:
        cv = 0.0
    elif mean == 0.0:
        cv = math.nan
    else:
        cv = stdev / mean
    return dict(zip(SUMMARY_KEYS, (mean, p0, p10, p50, p90, p100, stdev, mad, cv), strict=True))


def requested_statistics(values: Sequence[float], names: Sequence[str]) -> dict[str, float]:
    """The figures a spec's `statistics` asks for: the FAI-PEP keys, and any percentile `pN`
    (FAI-PEP specs ask for p95 and p99), interpolated like the others."""
    summary = summarize(values)
    array = finite_array(values, "values")
    figures = {}
    for name in names:
        if name in summary:
            figures[name] = summary[name]
        elif name.startswith("p") and name[1:].isdigit() and 0 <= int(name[1:]) <= 100:
            figures[name] = float(np.percentile(array, int(name[1:])))
        else:
            expected = ", ".join(SUMMARY_KEYS)
            raise StatisticsInputError(f"statistic {name!r} is unknown, expected one of {expected} or pN")
    return figures


def diff_summary(treatment_summary: Mapping[str, float], control_summary: Mapping[str, float]) -> dict[str, float]:
    """Treatment minus control for every summary key, as FAI-PEP's diff_summary reports.

    Only keys both summaries have are differenced, so a summary from an older result that
    lacks a key still yields the differences it can.
    """
    return {
        key: float(treatment_summary[key]) - float(control_summary[key])
        for key in treatment_summary
        if key in control_summary
    }


def _trimmed_mean(array: np.ndarray) -> float:
    cut = int(_TRIM_FRACTION * array.size)
    kept = np.sort(array)[cut : array.size - cut]
    return float(np.mean(kept))


_ROUND_STATISTICS: dict[str, Callable[[np.ndarray], float]] = {
    "median": lambda array: float(np.median(array)),
    "p10": lambda array: float(np.percentile(array, 10)),
    "trimmed_mean": _trimmed_mean,
    "min": lambda array: float(np.min(array)),
}

ROUND_STATISTICS = tuple(_ROUND_STATISTICS)


def round_statistic(values: Sequence[float], method: str = DEFAULT_ROUND_STATISTIC) -> float:
    """Reduce one process's iterations to the single number a round contributes.

    A round is one fresh process, so its iterations share the same memory layout and
    frequency state; a robust statistic keeps one preempted iteration from moving the
    round. Which one is the default is decided by the detection benchmark (see
    DEFAULT_ROUND_STATISTIC); a spec may choose another per test.
    """
    if method not in _ROUND_STATISTICS:
        raise StatisticsInputError(
            f"round statistic {method!r} is unknown, expected one of {', '.join(ROUND_STATISTICS)}"
        )
    return _ROUND_STATISTICS[method](finite_array(values, "iteration values"))
