"""`aipep-report` on results the harness stored from real runs: HTML and Markdown, and one line for bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.report_cli import main
from harness.store.result_store import ResultStore
from tests.reports.report_files import html_figures

AIPEP_REPORT = Path(sys.executable).parent / "aipep-report"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_an_ab_report_shows_regressions_first_rounds_with_the_rerun_and_the_stopping_decision(ab_run, tmp_path):
    db, result_id = ab_run
    out = tmp_path / "report.html"
    assert main(["--db", str(db), "--result", result_id, "--out", str(out)]) == 0
    figures = {figure["layout"]["title"]["text"]: figure for figure in html_figures(out)}
    forest = figures["Change of every metric, treatment against control (%, 95% CI)"]
    assert [trace["name"] for trace in forest["data"]][0] == "regression"
    assert set(forest["data"][0]["y"]) == {"NET latency", "Conv latency"}
    assert forest["layout"]["yaxis"]["categoryarray"][:2] == ["NET latency", "Conv latency"]
    rounds = figures["Per-round log-ratio ln(treatment / control)"]
    with ResultStore(db) as store:
        result = store.load_run(result_id)
    # A metric with no estimate (bytes read: zero in both arms when the page cache holds the
    # files) has no point to draw; every metric with one is in the forest.
    compared = {
        key
        for key, metric in result.data.items()
        if metric.comparison is not None and metric.comparison.estimate_pct is not None
    }
    assert set(forest["layout"]["yaxis"]["categoryarray"]) == compared
    assert {"NET latency", "Conv latency", "Op00 latency", "PROCESS peak_rss"} <= compared
    [rerun] = result.meta["rerun_rounds"]
    assert [shape["x0"] for shape in rounds["layout"]["shapes"]] == [rerun["round"] + 1]
    assert len(rounds["data"][0]["y"]) == len(result.meta["rounds"])
    assert {"NET latency per arm", "Conv latency per arm"} <= set(figures)
    assert [trace["name"] for trace in figures["Conv latency per arm"]["data"]] == ["treatment", "control"]
    text = out.read_text()
    assert "Why it stopped" in text and f"{len(result.meta['rounds'])}</dd>" in text


def test_the_html_report_carries_its_plotting_library_and_names_nothing_outside(ab_run, tmp_path):
    db, result_id = ab_run
    out = tmp_path / "report.html"
    assert main(["--db", str(db), "--last", "--out", str(out)]) == 0
    text = out.read_text()
    assert "Plotly.newPlot" in text and len(text) > 1_000_000
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_a_markdown_report_references_every_png_it_wrote(ab_run, tmp_path):
    db, result_id = ab_run
    out = tmp_path / "report"
    assert main(["--db", str(db), "--result", result_id, "--format", "md", "--out", str(out)]) == 0
    markdown = (out / "report.md").read_text()
    referenced = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", markdown)
    written = sorted(path.relative_to(out).as_posix() for path in (out / "figures").iterdir())
    assert sorted(referenced) == written and len(written) == 4
    for name in written:
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)
    assert "| Conv latency | regression |" in markdown


def test_a_plain_run_report_ranks_operators_by_share(plain_run, tmp_path):
    db, result_id = plain_run
    out = tmp_path / "run.html"
    assert main(["--db", str(db), "--result", result_id, "--out", str(out)]) == 0
    figures = {figure["layout"]["title"]["text"]: figure for figure in html_figures(out)}
    bars = figures["Operators by share of the network (%)"]["data"][0]
    assert bars["y"][0] == "Conv latency" and bars["x"] == sorted(bars["x"], reverse=True)
    assert "NET latency distribution" in figures


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--result", "feedbeef"], "--result: {db} holds no result with id 'feedbeef'"),
        (["--compare", "feedbeef"], "--compare: expected two or more result ids separated by commas, got 'feedbeef'"),
        (["--model", "scripted", "--commits", "aaa..bbb"], "--commits: no result of model 'scripted' at commit 'aaa'"),
        (["--model", "other", "--commits", "aaa..bbb"], "--model: {db} holds no results of model 'other'"),
    ],
)
def test_bad_selection_is_one_line_and_status_2(ab_run, tmp_path, arguments, expected):
    db, _ = ab_run
    finished = _report(["--db", str(db), *arguments, "--out", str(tmp_path / "r.html")])
    assert (finished.returncode, finished.stdout) == (2, "")
    assert finished.stderr == f"aipep-report: error: {expected.format(db=db)}\n"
    assert not (tmp_path / "r.html").exists()


def test_an_empty_or_missing_database_is_one_line_and_status_2(tmp_path):
    empty = tmp_path / "empty.db"
    ResultStore(empty).close()
    finished = _report(["--db", str(empty), "--last", "--out", str(tmp_path / "r.html")])
    assert (finished.returncode, finished.stderr) == (2, f"aipep-report: error: --last: {empty} holds no results\n")
    missing = tmp_path / "missing.db"
    finished = _report(["--db", str(missing), "--last", "--out", str(tmp_path / "r.html")])
    assert (finished.returncode, finished.stderr) == (2, f"aipep-report: error: --db: {missing} does not exist\n")
    assert not missing.exists()


def _report(arguments: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(AIPEP_REPORT), *arguments], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
