"""A report as Markdown with its figures as PNG files beside it, for places that show Markdown (reviews, wikis).

The folder holds `report.md` and `figures/*.png`, referenced by relative paths, so it
can be copied or zipped as it is.
"""

from __future__ import annotations

from pathlib import Path

from reports.figures import Report, Table
from reports.png_figures import write_png

REPORT_FILE = "report.md"
FIGURES_DIR = "figures"


def write_markdown(report: Report, directory: Path) -> Path:
    """Write report.md and its figures into `directory`; returns the Markdown file's path."""
    figures_dir = directory / FIGURES_DIR
    figures_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"# {_cell(report.title)}", ""]
    number = 0
    for section in report.sections:
        lines += [f"## {_cell(section.title)}", ""]
        lines += [f"- **{name}**: {_cell(value)}" for name, value in section.facts]
        if section.facts:
            lines.append("")
        for paragraph in section.paragraphs:
            lines += [_cell(paragraph), ""]
        for table in section.tables:
            lines += [*_table(table), ""]
        for figure in section.figures:
            number += 1
            name = f"{number:02d}-{_file_name(figure.name)}.png"
            write_png(figure, figures_dir / name)
            alternative = _cell(figure.title).replace("[", "(").replace("]", ")")
            lines += [f"![{alternative}]({FIGURES_DIR}/{name})", ""]
    path = directory / REPORT_FILE
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _table(table: Table) -> list[str]:
    return [
        "| " + " | ".join(_cell(name) for name in table.header) + " |",
        "|" + "---|" * len(table.header),
        *("| " + " | ".join(_cell(cell) for cell in row) + " |" for row in table.rows),
    ]


def _cell(text: str) -> str:
    """Text as Markdown shows it literally: a viewer that renders inline HTML gets no tags from a result."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|").replace("\n", " ")


def _file_name(name: str) -> str:
    return "".join(character if character.isalnum() or character in "-_" else "_" for character in name)
