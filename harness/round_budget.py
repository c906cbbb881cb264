"""A/B round budgets checked against what the statistics can ever conclude, before anything runs.

The exact signed-rank p-value cannot fall below 2**-n, so below a number of rounds that depends
on alpha no regression can ever be significant; the sequential runner would only find that out
after building, pushing and probing. Checking every test up front turns it into the one-line
user mistake it is, naming the flag or spec field to change and the smallest value that works.
The smallest value comes from the statistics module, so it follows alpha and the spending rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from aipep_core.errors import UserError
from aipep_core.job import RunSettings
from aipep_core.spec import BenchmarkSpec, TestSpec
from harness.stats.sequential import alpha_for_look, min_rounds_for

OVERRIDABLE = ("alpha", "min_rounds", "max_rounds")


def fewest_significant_rounds(alpha: float) -> int:
    """The fewest rounds at which a single look at `alpha` can declare a regression."""
    return min_rounds_for(alpha_for_look(alpha, 0, 1))


@dataclass(frozen=True)
class RoundSettings:
    """One test's round budget and alpha after command-line overrides, and where each came from."""

    alpha: float
    min_rounds: int
    max_rounds: int
    names: dict[str, str]

    @classmethod
    def of(cls, spec: BenchmarkSpec, test: TestSpec, overrides: dict[str, float | int | None]) -> RoundSettings:
        values = {name: getattr(test, name) if overrides.get(name) is None else overrides[name] for name in OVERRIDABLE}
        names = {
            name: f"{spec.path.name}: tests[{test.index}].{name}" if overrides.get(name) is None else f"--{name}"
            for name in OVERRIDABLE
        }
        return cls(names=names, **values)


def check_round_budgets(specs: list[BenchmarkSpec], settings: RunSettings) -> None:
    """Raise UserError for the first test whose rounds could never give a significant verdict."""
    overrides = {name: getattr(settings, name) for name in OVERRIDABLE}
    _check_flags(overrides)
    for spec in specs:
        for test in spec.tests:
            _check(RoundSettings.of(spec, test, overrides))


def _check_flags(overrides: dict[str, float | int | None]) -> None:
    alpha = overrides.get("alpha")
    if alpha is not None and not 0 < alpha < 1:
        raise UserError(f"--alpha: expected a number between 0 and 1, got {alpha:g}")
    min_rounds = overrides.get("min_rounds")
    if min_rounds is not None and min_rounds < 1:
        raise UserError(f"--min_rounds: expected an integer >= 1, got {min_rounds}")


def _check(settings: RoundSettings) -> None:
    names = settings.names
    if settings.max_rounds < settings.min_rounds:
        raise UserError(
            f"{names['max_rounds']}: expected an integer >= {_short(names['min_rounds'])} ({settings.min_rounds}), "
            f"got {settings.max_rounds}"
        )
    fewest = fewest_significant_rounds(settings.alpha)
    if settings.max_rounds < fewest:
        raise UserError(
            f"{names['max_rounds']}: expected at least {fewest}, got {settings.max_rounds}: at "
            f"{_short(names['alpha'])} {settings.alpha:g} no regression can be significant in fewer rounds "
            f"({_short(names['min_rounds'])} may stay lower; the first look waits for enough rounds)"
        )


def _short(name: str) -> str:
    """A flag as given; a spec field without its file, which the message already names."""
    return name.rsplit(".", 1)[-1] if not name.startswith("--") else name
