"""What a comparison concluded for one metric: the value results, the store and the server carry.

It stays an enum wherever a record is read back, so no part compares verdicts as strings.
"""

import enum


class Verdict(enum.StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    NO_CHANGE = "no_change"
    INCONCLUSIVE = "inconclusive"
