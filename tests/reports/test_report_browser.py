"""The HTML report opened from disk in Debian's Chromium: every figure draws, offline, without an error."""

from __future__ import annotations

import pytest

from harness.report_cli import main
from harness.store.result_store import ResultStore
from reports.ab_report import ab_report
from tests import chromium_browser
from tests.reports.report_files import html_figures

WAIT_MS = 30_000
browser = chromium_browser.browser
# A figure has drawn when its SVG holds a trace with a shape that has an outline (a marker, a line, a box, a bar).
_SHAPES = "svg.main-svg g.trace path[d]:not([d='']), svg.main-svg g.trace rect"
DRAWN = f"n => [...document.querySelectorAll('div.figure')].filter(d => d.querySelector(\"{_SHAPES}\")).length == n"
SHAPES_PER_FIGURE = (
    "() => Object.fromEntries([...document.querySelectorAll('div.figure')]"
    f'.map(d => [d.dataset.figure, d.querySelectorAll("{_SHAPES}").length]))'
)


def ab_figures(db, result_id: str) -> int:
    """The figures the stored record's A/B report calls for: 4 for the scripted run (NET and Conv) as a
    rule, but it is a real run and one CI run drew 6, so they are counted from the report itself."""
    with ResultStore(db) as store:
        result = store.load_run(result_id, include_logs=False)
    figures = [figure.name for section in ab_report(result).sections for figure in section.figures]
    assert {"arms-NET latency", "arms-Conv latency"} <= set(figures)
    return len(figures)


def chosen(request, kind: str) -> tuple[list[str], int]:
    """The report's selection flags for `kind`, and how many figures it has."""
    if kind in ("ab_run", "plain_run"):
        db, result_id = request.getfixturevalue(kind)
        return ["--db", str(db), "--result", result_id], ab_figures(db, result_id) if kind == "ab_run" else 2
    db, ids = request.getfixturevalue("commit_range")
    if kind == "range":
        return ["--db", str(db), "--model", "scripted", "--commits", "aaa..ccc"], 2
    return ["--db", str(db), "--compare", ",".join(ids)], 1


@pytest.mark.parametrize("kind", ["ab_run", "plain_run", "range", "comparison"])
def test_every_figure_draws_offline_without_errors(request, kind, tmp_path, browser):
    selection, figures_expected = chosen(request, kind)
    report = tmp_path / "report.html"
    assert main([*selection, "--out", str(report)]) == 0
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors, outside = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("request", lambda sent: outside.append(sent.url) if not sent.url.startswith(("file:", "data:")) else None)
    page.goto(report.as_uri())
    figures = page.locator("div.figure")
    count = figures.count()
    assert count == len(html_figures(report)) == figures_expected
    page.wait_for_function(DRAWN, arg=count, timeout=WAIT_MS)
    shapes = page.evaluate(SHAPES_PER_FIGURE)
    assert all(drawn > 0 for drawn in shapes.values()), shapes
    for index in range(count):
        box = figures.nth(index).bounding_box()
        assert box["width"] > 100 and box["height"] > 100
    page.screenshot(path=str(tmp_path / f"{kind}.png"), full_page=True)
    assert (tmp_path / f"{kind}.png").stat().st_size > 10_000
    assert errors == []
    assert outside == []
    context.close()
