"""Reports over several stored results: a commit range of a model, and a comparison of chosen results."""

from __future__ import annotations

import hashlib
import json
import re

from harness.report_cli import main
from harness.store.result_store import ResultStore
from tests.reports.report_files import html_figures
from tests.reports.scripted_runs import run_harness, write_program, write_spec


def test_a_commit_range_shows_net_over_commits_and_names_the_culprit(commit_range, tmp_path):
    db, ids = commit_range
    out = tmp_path / "range.html"
    assert main(["--db", str(db), "--model", "scripted", "--commits", "AAA..ccc", "--out", str(out)]) == 0
    figures = {figure["layout"]["title"]["text"]: figure for figure in html_figures(out)}
    net = figures["NET latency over commits"]
    assert net["layout"]["xaxis"]["ticktext"] == ["aaa1", "bbb2", "ccc3"]
    median = next(trace for trace in net["data"] if trace["mode"] == "lines+markers")
    assert median["y"][0] < median["y"][1]
    assert [trace["name"] for trace in figures["Regressed operators over commits (p50)"]["data"]] == [
        "Conv latency band",
        "Conv latency",
    ]
    culprits = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>", out.read_text())
    assert sorted(culprits) == [("bbb2", "bbb2-base", "Conv latency"), ("bbb2", "bbb2-base", "NET latency")]


def test_a_part_of_the_range_holds_only_its_commits(commit_range, tmp_path):
    db, ids = commit_range
    out = tmp_path / "range"
    assert (
        main(["--db", str(db), "--model", "scripted", "--commits", "bbb..ccc", "--format", "md", "--out", str(out)])
        == 0
    )
    markdown = (out / "report.md").read_text()
    assert "- **Results**: 2" in markdown
    for name in re.findall(r"\((figures/[^)]+\.png)\)", markdown):
        assert (out / name).stat().st_size > 0


def test_a_reversed_range_is_one_line_and_status_2(commit_range, tmp_path, capsys):
    db, _ = commit_range
    assert main(["--db", str(db), "--model", "scripted", "--commits", "ccc..aaa", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (
        "aipep-report: error: --commits: commit 'aaa' comes before 'ccc'; expected OLDER..NEWER\n"
    )


def test_a_comparison_tabulates_each_result_and_plots_its_latency(commit_range, tmp_path):
    db, ids = commit_range
    out = tmp_path / "comparison.html"
    assert main(["--db", str(db), "--compare", ",".join(ids), "--out", str(out)]) == 0
    (figure,) = html_figures(out)
    with ResultStore(db) as store:
        medians = [store.load_run(run_id).data["NET latency"].summary["p50"] for run_id in ids]
    assert figure["data"][0]["x"] == medians
    assert all(f"<td>{run_id}</td>" in out.read_text() for run_id in ids)


def test_a_step_in_nets_history_is_marked_where_the_new_level_starts(tmp_path):
    db = tmp_path / "aipep.db"
    spec = write_spec(tmp_path, model="stepped")
    fast = write_program(tmp_path, "fast.py", 100.0, 2)
    slow = write_program(tmp_path, "slow.py", 140.0, 2)
    for number in range(8):
        program = fast if number < 4 else slow
        assert run_harness(db, spec, program, None, f"c{number}", commit_time=number + 1) == 0
    out = tmp_path / "stepped.html"
    assert main(["--db", str(db), "--model", "stepped", "--commits", "c0..c7", "--out", str(out)]) == 0
    (net,) = html_figures(out)
    assert [shape["x0"] for shape in net["layout"]["shapes"]] == [4.0]
    assert re.search(r"<tr><td>NET latency</td><td>c4</td><td>\+\d+\.\d%</td></tr>", out.read_text())


def test_a_comparison_of_models_plots_latency_against_the_recorded_model_size(tmp_path):
    db = tmp_path / "aipep.db"
    program = write_program(tmp_path, "p.py", 100.0, 2)
    for model, megabytes in (("small", 1), ("large", 3)):
        weights = tmp_path / f"{model}.bin"
        weights.write_bytes(bytes(megabytes * 1_000_000))
        files = {"model": {"filename": weights.name, "location": str(weights), "md5": md5_of(weights)}}
        spec = write_spec(tmp_path, model)
        document = json.loads(spec.read_text())
        document["model"]["files"] = files
        spec.write_text(json.dumps(document))
        assert run_harness(db, spec, program, None, model) == 0
    with ResultStore(db) as store:
        results = store.find_runs()
    assert sorted(result.meta["model_size_bytes"] for result in results) == [1_000_000, 3_000_000]
    out = tmp_path / "models.html"
    assert main(["--db", str(db), "--compare", ",".join(result.id for result in results), "--out", str(out)]) == 0
    (figure,) = html_figures(out)
    assert sorted(figure["data"][0]["x"]) == [1.0, 3.0]


def md5_of(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()
