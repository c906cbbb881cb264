"""`--report DIR`: each result's report as one offline HTML file, written as soon as the result exists.

A nightly run's folder then holds a file per test that a person opens or attaches
without a database or a server; the file is named like the simple local reporter's
(model, test, platform, result id), so results never overwrite each other.
"""

from __future__ import annotations

from pathlib import Path

from aipep_core.atomic_file import write_atomically
from aipep_core.result_record import RunResult
from harness.reporters.base import Reporter
from harness.reporters.path_names import path_component
from reports.html_report import render_html
from reports.single_result import result_report


class ReportFilesReporter(Reporter):
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def report(self, result: RunResult) -> None:
        write_atomically(self.path_of(result), render_html(result_report(result)))

    def path_of(self, result: RunResult) -> Path:
        meta = result.meta
        parts = (meta.get("model"), meta.get("identifier"), meta.get("platform"), result.id)
        return self.directory / ("__".join(path_component(part or "unknown") for part in parts) + ".html")
