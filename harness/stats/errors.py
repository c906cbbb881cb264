"""The one exception the statistics raise for unusable numbers.

It subclasses ValueError so callers that already treat bad values as user errors keep
working, while the harness can still tell a statistics refusal from its own bugs.
"""


class StatisticsInputError(ValueError):
    """Numbers the statistics cannot give a meaningful answer for.

    Raised instead of returning NaN, so a broken measurement (a crashed iteration
    reporting 0, an inf from a parse error, arms of unequal length) stops the analysis
    with a message naming the problem rather than silently becoming a verdict.
    """
