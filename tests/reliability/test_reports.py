"""Hostile input for reports: paths that cannot be written, a file that is no database, records with
numbers JSON cannot hold and text that tries to close the page's script."""

from __future__ import annotations

import json
import re
import warnings

from aipep_core.result_record import MetricComparison, MetricResult, RunResult
from aipep_core.verdict import Verdict
from harness.report_cli import main
from harness.store.result_store import ResultStore
from reports.html_report import render_html
from reports.markdown_report import write_markdown
from reports.single_result import result_report

HOSTILE_NAME = "</script><script>alert(1)</script>"


def hostile_record() -> RunResult:
    values = [float("nan"), 2.0, float("inf"), 1.5]
    comparison = MetricComparison(Verdict.REGRESSION, 4, float("nan"), 1.0, float("inf"), 0.01)
    metric = MetricResult(
        "NET", "latency", "ms", values, {"p50": float("nan")}, 4,
        round_values=values, control_values=[1.0, 1.0, 1.0, 1.0], control_round_values=[1.0, 0.0, 1.0, 1.0],
        comparison=comparison,
    )  # fmt: skip
    meta = {"model": HOSTILE_NAME, "identifier": "t", "control_commit": "old", "rerun_rounds": [{"round": "x"}]}
    return RunResult(meta=meta, data={metric.key: metric})


def test_numbers_json_cannot_hold_and_script_text_do_not_break_the_page():
    page = render_html(result_report(hostile_record()))
    assert HOSTILE_NAME not in page
    (figures,) = re.findall(r'<script type="application/json" id="figures">(.*?)</script>', page, re.S)
    drawn = json.loads(figures)
    assert drawn and "NaN" not in figures and "Infinity" not in figures


def test_markdown_shows_tags_from_a_record_as_text_and_draws_only_finite_values(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        markdown = write_markdown(result_report(hostile_record()), tmp_path / "report").read_text()
    assert HOSTILE_NAME not in markdown
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in markdown


def test_an_out_path_that_cannot_be_written_is_one_line_and_status_2(tmp_path, capsys):
    db = tmp_path / "aipep.db"
    with ResultStore(db) as store:
        store.save_run(RunResult(meta={"model": "m"}))
    taken = tmp_path / "taken.html"
    taken.mkdir()
    assert main(["--db", str(db), "--last", "--out", str(taken)]) == 2
    assert capsys.readouterr().err == f"aipep-report: error: --out: cannot write {taken} (Is a directory)\n"
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert main(["--db", str(db), "--last", "--format", "md", "--out", str(a_file)]) == 2
    assert capsys.readouterr().err == f"aipep-report: error: --out: cannot write {a_file} (Not a directory)\n"


def test_a_file_that_is_no_database_is_one_line_and_status_2(tmp_path, capsys):
    text = tmp_path / "notes.db"
    text.write_text("these are notes, not an SQLite database\n" * 20)
    assert main(["--db", str(text), "--last", "--out", str(tmp_path / "r.html")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"aipep-report: error: {text}: ")
    assert text.read_text() == "these are notes, not an SQLite database\n" * 20
