"""How figures are written for people, the same on the screen table and on the dashboard.

Tables compare rows by eye, so each figure gets the digits that matter and no more.
p-values span many decades, so they switch to exponent notation when small; one rule
for both places means a p-value read off the screen matches the one on the dashboard.
"""

from __future__ import annotations

import math

MISSING = "—"
OPEN_END = "open"


def measurement(value: float | None) -> str:
    """Three significant digits, but whole numbers are never cut to exponent form (12345 stays 12345)."""
    if value is None:
        return MISSING
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 999.5:
        return f"{value:.0f}"
    return f"{value:.3g}"


def percent(value: float | None, signed: bool = True) -> str:
    """A percentage without its sign, for columns whose heading says "%"."""
    if value is None:
        return MISSING
    if math.isnan(value):
        return "nan"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def microseconds_change(value: float | None) -> str:
    """A signed change in microseconds, one decimal: floors are a few microseconds."""
    return MISSING if value is None else f"{value:+.1f} us"


def percent_change(value: float | None) -> str:
    return MISSING if value is None else f"{percent(value)}%"


def interval(low: float | None, high: float | None) -> str:
    """[low, high] in percent for a "%" column; an end without a bound (too few rounds) is "open"."""
    return _interval(low, high, "")


def percent_interval(low: float | None, high: float | None) -> str:
    return _interval(low, high, "%")


def probability(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.2e}" if value < 0.001 else f"{value:.3f}"


def _interval(low: float | None, high: float | None, unit: str) -> str:
    if low is None and high is None:
        return MISSING
    ends = (OPEN_END if end is None else f"{percent(end)}{unit}" for end in (low, high))
    return "[{}, {}]".format(*ends)
