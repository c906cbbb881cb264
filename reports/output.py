"""Writing a report where the user asked: one HTML file, or a folder with report.md and its figures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
    write_text_whole(out, render_html(report))
    return out


def write_text_whole(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
