"""How the dashboard writes numbers: few digits, signs on changes, a dash for what is missing.

Tables compare rows by eye, so each figure gets the digits that matter and no more;
p-values span many decades, so they switch to exponent notation when small.
"""

from __future__ import annotations

MISSING = "–"


def percent_change(value: float | None) -> str:
    return MISSING if value is None else f"{value:+.1f}%"


def interval(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return MISSING
    left = "open" if low is None else f"{low:+.1f}%"
    right = "open" if high is None else f"{high:+.1f}%"
    return f"[{left}, {right}]"


def measured(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4g}"


def probability(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.2e}" if value < 0.001 else f"{value:.3f}"


def short_commit(commit: str | None) -> str:
    return MISSING if not commit else commit[:10]
