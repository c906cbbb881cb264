"""What a comparison concluded for one metric: the value results, the store and the server carry.

It stays an enum wherever a record is read back, so no part compares verdicts as strings.
"""

import enum


class Verdict(enum.StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    NO_CHANGE = "no_change"
    INCONCLUSIVE = "inconclusive"


# How tables and pages order metrics: what needs a person first (a regression, then a verdict that
# still needs more rounds), what is good news next, and the quiet rest last.
VERDICT_ORDER = (Verdict.REGRESSION, Verdict.INCONCLUSIVE, Verdict.IMPROVEMENT, Verdict.NO_CHANGE)

# What every view writes for a metric measured in both arms but given no verdict (FAI-PEP's `generic`
# metric judges none): a blank would read as "not run" or "lost"; this says no judgement was made.
NOT_JUDGED = "not judged"
