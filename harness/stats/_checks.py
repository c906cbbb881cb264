"""Input checks shared by the statistics, so every refusal reads the same way."""

from collections.abc import Sequence

import numpy as np

from harness.stats.errors import StatisticsInputError


def finite_array(values: Sequence[float], what: str) -> np.ndarray:
    """Return `values` as a 1-D float array, refusing empty, NaN and infinite input."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise StatisticsInputError(f"{what} must be a flat sequence of numbers, got shape {array.shape}")
    if array.size == 0:
        raise StatisticsInputError(f"{what} is empty")
    bad = ~np.isfinite(array)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise StatisticsInputError(f"{what}[{index}] is {array[index]}, expected a finite number")
    return array


def positive_array(values: Sequence[float], what: str) -> np.ndarray:
    """Like finite_array, also refusing values <= 0 because a logarithm will be taken."""
    array = finite_array(values, what)
    bad = array <= 0
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise StatisticsInputError(
            f"{what}[{index}] is {array[index]}, expected a positive number (its logarithm is taken)"
        )
    return array


def probability(value: float, what: str, *, open_interval: bool) -> float:
    """Refuse a level outside (0, 1), or outside [0, 1] where 0 and 1 are meaningful."""
    number = float(value)
    inside = 0.0 < number < 1.0 if open_interval else 0.0 <= number <= 1.0
    if not inside:
        bounds = "(0, 1)" if open_interval else "[0, 1]"
        raise StatisticsInputError(f"{what} is {value}, expected a number in {bounds}")
    return number
