"""`harness`: the command line's flags become a Job, the job runs, its outcome becomes the exit status."""

from __future__ import annotations

import sys

from aipep_core.errors import UserError
from aipep_core.verdict import Verdict
from harness.cli_args import EXIT_FAILED_RUN, EXIT_REGRESSION, EXIT_UNDELIVERED, parse_job
from harness.job_runner import JobOutcome, run_job


def main(argv: list[str] | None = None) -> int:
    try:
        job = parse_job(argv)
        return exit_status(run_job(job), fail_on_regression=job.fail_on_regression)
    except UserError as error:
        print(f"harness: error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


def exit_status(outcome: JobOutcome, *, fail_on_regression: bool) -> int:
    """A failed test first, then a regression (when asked), then a result not delivered everywhere."""
    if any(not result.ok for result in outcome.results):
        return EXIT_FAILED_RUN
    if fail_on_regression and any(
        metric.comparison is not None and metric.comparison.verdict is Verdict.REGRESSION
        for result in outcome.results
        for metric in result.data.values()
    ):
        return EXIT_REGRESSION
    return EXIT_UNDELIVERED if outcome.undelivered else 0
