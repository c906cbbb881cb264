"""The results server serves each result's report at /results/ID/report, the same report aipep-report writes."""

from __future__ import annotations

import requests

from harness.report_cli import main
from harness.store.result_store import ResultStore
from tests.reports.report_files import html_figures
from tests.server.requests_helpers import TIMEOUT, post_record
from tests.server.server_thread import ServerThread


def test_the_comparison_page_links_to_the_report_the_cli_writes(ab_run, tmp_path):
    db, result_id = ab_run
    with ResultStore(db) as store:
        record = store.load_run(result_id, include_logs=False).to_json()
    written = tmp_path / "cli.html"
    assert main(["--db", str(db), "--result", result_id, "--out", str(written)]) == 0
    with ServerThread(f"sqlite:///{tmp_path / 'results.db'}") as server:
        assert post_record(server, record).status_code == 201
        page = requests.get(f"{server.url}/results/{result_id}", timeout=TIMEOUT)
        assert f'<a id="report" href="/results/{result_id}/report">' in page.text
        served = requests.get(f"{server.url}/results/{result_id.upper()}/report", timeout=TIMEOUT)
        missing = requests.get(f"{server.url}/results/feedbeef/report", timeout=TIMEOUT)
    assert served.status_code == 200 and served.headers["Content-Type"].startswith("text/html")
    (tmp_path / "served.html").write_text(served.text)
    assert html_figures(tmp_path / "served.html") == html_figures(written)
    assert missing.status_code == 404
