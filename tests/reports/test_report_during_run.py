"""`harness --report DIR`: every result's HTML report is in DIR when the run ends, failed results too."""

from __future__ import annotations

import sys

from harness.store.result_store import ResultStore
from tests.reports.report_files import html_figures
from tests.reports.scripted_runs import run_harness, write_program, write_spec


def test_each_result_of_an_ab_run_gets_its_report(tmp_path):
    reports = tmp_path / "reports"
    slow = write_program(tmp_path, "slow.py", 130.0, 3)
    fast = write_program(tmp_path, "fast.py", 100.0, 3)
    db = tmp_path / "aipep.db"
    assert run_harness(db, write_spec(tmp_path), slow, fast, "c0ffee", "--report", str(reports)) == 0
    with ResultStore(db) as store:
        (result,) = store.find_runs()
    (written,) = reports.iterdir()
    assert written.name == f"scripted__scripted_test__host__{result.id}.html"
    titles = [figure["layout"]["title"]["text"] for figure in html_figures(written)]
    assert titles[0] == "Change of every metric, treatment against control (%, 95% CI)"
    assert "Conv latency per arm" in titles


def test_a_failed_run_still_gets_a_report_saying_why(tmp_path):
    crashing = tmp_path / "crash.py"
    crashing.write_text(f"#!{sys.executable}\nimport sys\nprint('simulated crash', file=sys.stderr)\nsys.exit(9)\n")
    crashing.chmod(0o755)
    reports = tmp_path / "reports"
    status = run_harness(tmp_path / "aipep.db", write_spec(tmp_path), crashing, None, "abc1", "--report", str(reports))
    assert status != 0
    (written,) = reports.iterdir()
    text = written.read_text()
    assert "failure" in text and "exited with status 9" in text
