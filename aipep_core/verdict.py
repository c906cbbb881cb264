"""What a comparison concluded for one metric: the value results, the store and the server carry.

It stays an enum wherever a record is read back, so no part compares verdicts as strings.

`below_floor` is an operator whose change, in microseconds, is smaller than the test's
`min_abs_change_us`: a Softmax of 3 us that became 85% slower is a real change and is
shown, but it costs nobody anything, so it is neither a regression nor an improvement, and
it is settled (more rounds would not make it matter).
"""

import enum


class Verdict(enum.StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    NO_CHANGE = "no_change"
    INCONCLUSIVE = "inconclusive"
    BELOW_FLOOR = "below_floor"


# How tables and pages order metrics: what needs a person first (a regression, then a verdict that
# still needs more rounds), what is good news next, and the quiet rest last: changes too small to
# matter before no change at all.
VERDICT_ORDER = (Verdict.REGRESSION, Verdict.INCONCLUSIVE, Verdict.IMPROVEMENT, Verdict.BELOW_FLOOR, Verdict.NO_CHANGE)

# What every view writes for a metric measured in both arms but given no verdict (FAI-PEP's `generic`
# metric judges none): a blank would read as "not run" or "lost"; this says no judgement was made.
NOT_JUDGED = "not judged"
