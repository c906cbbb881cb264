"""Writing a report where the user asked: one HTML file, or a folder with report.md and its figures."""

from __future__ import annotations

from pathlib import Path

from aipep_core.atomic_file import write_atomically
from reports.figures import Report
from reports.html_report import render_html
from reports.markdown_report import write_markdown

HTML = "html"
MARKDOWN = "md"
FORMATS = (HTML, MARKDOWN)


def write_report(report: Report, out: Path, report_format: str = HTML) -> Path:
    """The path of the written HTML file or Markdown file; HTML replaces `out` whole, never half-written."""
    if report_format == MARKDOWN:
        return write_markdown(report, out)
    write_atomically(out, render_html(report))
    return out
