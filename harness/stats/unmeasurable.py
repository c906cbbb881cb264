"""Per-round statistics no log-ratio can be formed from, and the note that says why.

Profilers print 0 for an operator faster than their clock's step, and a broken clock can
print a negative time. ln(treatment / control) has no value for such a round, and every
way of forcing one lies: dropping those rounds keeps only the rounds in which the operator
happened to be measurable (a selection that depends on the outcome, which biases the
estimate and breaks the pairing the test relies on), and replacing 0 by some resolution
invents a number nobody measured. So such a metric gets no estimate, no p-value and the
verdict "inconclusive", with a note naming the rounds; it is not part of the operators'
multiple-testing family, because it was not tested. More rounds cannot repair a round that
is already 0, so a runner need not wait for it: the verdict is final.

A metric a program printed in some rounds and not in others (a resource the sampler could
not read before a short program exited, an operator the runtime skipped) has the same
problem: a round without it has no pair, and the rounds it was read in are a selection. It
gets the same answer, with a note that counts the rounds.

NaN and infinity stay refused (StatisticsInputError): the parser never lets them into
samples, so one here is a bug upstream, not something a program printed.
"""

from collections.abc import Sequence

import numpy as np


def unmeasurable_note(treatment: Sequence[float], control: Sequence[float]) -> str | None:
    """Why these paired rounds cannot be compared as ratios, or None when they can (or must be refused)."""
    t, c = np.asarray(treatment, dtype=float), np.asarray(control, dtype=float)
    if not (np.isfinite(t).all() and np.isfinite(c).all()):
        return None
    bad_treatment, bad_control = t <= 0, c <= 0
    if not (bad_treatment.any() or bad_control.any()):
        return None
    below_zero = bool((t < 0).any() or (c < 0).any())
    cause = (
        "0 or below (0 is below the timer's resolution, below 0 a broken clock)"
        if below_zero
        else ("0 (below the timer's resolution)")
    )
    return (
        f"no ratio can be formed: the per-round statistic is {cause} in {int(bad_treatment.sum())} treatment "
        f"and {int(bad_control.sum())} control round(s) of {max(t.size, c.size)}"
    )


def missing_rounds_note(treatment_rounds: int, control_rounds: int, rounds: int) -> str:
    """Why a metric read in only some rounds gets no ratio: how many rounds of each arm had it."""
    return (
        f"read in {treatment_rounds} treatment and {control_rounds} control round(s) of {rounds}: "
        "a round without it has no pair"
    )
