"""Pulling single outlying commits back towards their neighbours before change-point detection.

A commit benchmarked on a disturbed machine reads a few percent slow, once. The
segmentation in change_points.py scores segments by squared error, so two such commits a
few apart make a short segment of their own: on histories with one disturbed commit in 20
that was 1.6 false change points per 100 commits against 0.03 on clean noise
(benchmarks/change_points_vs_otava.py). A point is compared with the median of the five
around it; a residual beyond 3 robust sigmas (the MAD of all residuals) is cut back to 3
sigmas. A step or a ramp moves the running median with it, so the residuals of real level
changes stay small and are left alone.
"""

from collections.abc import Sequence

import numpy as np

from harness.stats._checks import finite_array

_WINDOW = 5
_CUTOFF = 3.0
_MAD_TO_SIGMA = 1.4826


def clip_outliers(series: Sequence[float]) -> list[float]:
    """The series with isolated outlying points pulled back to 3 robust sigmas of their running median.

    Histories shorter than two windows, or without spread, are returned unchanged.
    """
    if len(series) < 2 * _WINDOW:
        return [float(value) for value in series]
    x = finite_array(series, "series")
    padded = np.pad(x, _WINDOW // 2, mode="edge")
    running_median = np.median(np.lib.stride_tricks.sliding_window_view(padded, _WINDOW), axis=1)
    residuals = x - running_median
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(residuals - np.median(residuals))))
    if sigma == 0.0:
        return x.tolist()
    limit = _CUTOFF * sigma
    return (running_median + np.clip(residuals, -limit, limit)).tolist()
