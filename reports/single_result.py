"""The report of one result: the A/B report when it was compared against a control, else the run report."""

from __future__ import annotations

from aipep_core.result_record import RunResult
from reports.ab_report import ab_report, is_ab
from reports.figures import Report
from reports.run_report import run_report


def result_report(result: RunResult) -> Report:
    return ab_report(result) if is_ab(result) or "control_commit" in result.meta else run_report(result)
