"""The marks on the per-round figure: a round re-run several times is one mark that says how often."""

from reports.ab_report import round_markers
from reports.figures import Marker


def test_repeated_reruns_of_a_round_are_one_marker_counted_and_rounds_count_from_one():
    meta = {
        "rerun_rounds": [{"round": 2, "reason": "cpu stolen"}, {"round": 2, "reason": "cpu stolen"}, {"round": 5}],
        "rounds": [{"round": 0, "disturbed": False}, {"round": 7, "disturbed": True}],
    }
    assert round_markers(meta) == (
        Marker(3.0, "re-run (cpu stolen) x2"),
        Marker(6.0, "re-run (disturbed)"),
        Marker(8.0, "disturbed"),
    )
