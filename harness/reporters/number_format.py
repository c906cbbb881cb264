"""How numbers look on screen: enough digits to compare, not so many that the table turns to noise."""

from __future__ import annotations

import math

MISSING = "—"


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
    if value is None:
        return MISSING
    if math.isnan(value):
        return "nan"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def interval(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return MISSING
    return f"[{percent(low)}, {percent(high)}]"


def probability(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.3g}"
