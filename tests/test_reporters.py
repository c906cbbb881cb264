"""Reporters: what a person sees on screen, what scripts parse, what lands on disk and in the database."""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path

from rich.console import Console

from aipep_core.result_record import FAILURE, MetricComparison, MetricResult, RunResult
from aipep_core.verdict import Verdict
from harness.reporters.ab_table import ab_table
from harness.reporters.local import LocalReporter
from harness.reporters.result_title import result_title
from harness.reporters.screen import ScreenReporter
from harness.reporters.simple_local import SimpleLocalReporter
from harness.reporters.simple_screen import SimpleScreenReporter
from harness.reporters.sqlite import SqliteReporter
from harness.store.result_store import ResultStore


def metric(
    type_: str, p50: float, comparison: MetricComparison | None = None, metric_name: str = "latency"
) -> MetricResult:
    return MetricResult(
        type=type_,
        metric=metric_name,
        unit="us",
        values=[p50 * 0.9, p50, p50 * 1.1],
        summary={"p10": p50 * 0.9, "p50": p50, "p90": p50 * 1.1},
        num_runs=3,
        comparison=comparison,
    )


def single_result() -> RunResult:
    return RunResult(
        meta={"model": "tiny_convnet", "identifier": "cpu", "platform": "host", "commit": "f" * 40},
        data={
            "Relu latency": metric("Relu", 50.0),
            "Conv latency": metric("Conv", 600.0),
            "NET latency": metric("NET", 1000.0),
            "Gemm latency": metric("Gemm", 250.0),
        },
        logs={"treatment": "AIPEP {}\n", "treatment/stderr": "warning\n"},
    )


def compared(verdict: str, estimate: float) -> MetricComparison:
    return MetricComparison(
        estimate_pct=estimate,
        ci_low_pct=estimate - 1.0,
        ci_high_pct=math.inf,
        p_value=0.01,
        q_value=0.03,
        rounds=8,
        verdict=Verdict(verdict),
    )


def ab_result() -> RunResult:
    result = single_result()
    result.meta.update(control_commit="e" * 40)
    result.data = {
        "NET latency": metric("NET", 1000.0, compared("no_change", 0.4)),
        "Add latency": metric("Add", 10.0, compared("improvement", -6.0)),
        "Conv latency": metric("Conv", 600.0, compared("regression", 3.5)),
        "Pool latency": metric("Pool", 20.0, compared("inconclusive", 1.0)),
        "Gemm latency": metric("Gemm", 250.0, compared("regression", 12.25)),
    }
    return result


def screen_text(result: RunResult) -> str:
    console = Console(record=True, width=200)
    ScreenReporter(console).report(result)
    return console.export_text()


def first_column(text: str) -> list[str]:
    return [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]


def test_single_arm_table_puts_net_first_then_costliest_operators_with_share():
    text = screen_text(single_result())
    assert "tiny_convnet / cpu / host / commit ffffffffffff" in text
    header = next(line for line in text.splitlines() if "p50" in line)
    assert [name.strip() for name in header.strip("┃").split("┃")] == [
        "type",
        "metric",
        "unit",
        "p10",
        "p50",
        "p90",
        "share",
    ]
    assert first_column(text) == ["NET", "Conv", "Gemm", "Relu"]
    conv_row = next(line for line in text.splitlines() if line.startswith("│ Conv"))
    assert "60.0%" in conv_row and "540" in conv_row and "660" in conv_row


def test_single_arm_table_without_net_has_no_share_column():
    result = single_result()
    del result.data["NET latency"]
    text = screen_text(result)
    assert "share" not in text
    assert first_column(text) == ["Conv", "Gemm", "Relu"]


def test_ab_table_lists_regressions_first_largest_first():
    text = screen_text(ab_result())
    assert "commit ffffffffffff vs control eeeeeeeeeeee" in text
    assert first_column(text) == ["Gemm", "Conv", "Pool", "Add", "NET"]
    gemm_row = next(line for line in text.splitlines() if line.startswith("│ Gemm"))
    assert "+12.2" in gemm_row and "[+11.2, +inf]" in gemm_row and "0.03" in gemm_row and "regression" in gemm_row
    net_row = next(line for line in text.splitlines() if line.startswith("│ NET"))
    assert "0.01" in net_row, "the whole network shows its own p-value, not a q-value"


def test_a_metric_without_an_estimate_says_why_under_the_table():
    result = ab_result()
    note = "read in 6 treatment and 5 control round(s) of 6: a round without it has no pair"
    result.data["Pad latency"] = metric("Pad", 5.0, MetricComparison(Verdict.INCONCLUSIVE, rounds=5, note=note))
    text = screen_text(result)
    pad_row = next(line for line in text.splitlines() if line.startswith("│ Pad"))
    assert "inconclusive" in pad_row
    assert f"Pad latency: {note}" in text
    assert "Conv latency:" not in text, "a metric with an estimate needs no explanation"


def test_operator_kinds_get_their_own_column_when_the_framework_names_them():
    result = ab_result()
    result.data["Conv latency"].op_type = "FusedConv"
    text = screen_text(result)
    header = next(line for line in text.splitlines() if "verdict" in line)
    assert [name.strip() for name in header.strip("┃").split("┃")][:3] == ["type", "op", "metric"]
    conv_row = next(line for line in text.splitlines() if line.startswith("│ Conv"))
    assert conv_row.split("│")[2].strip() == "FusedConv"
    assert "op" not in next(line for line in screen_text(single_result()).splitlines() if "p50" in line).split("┃")


def test_a_narrow_terminal_folds_names_but_never_the_numbers():
    result = ab_result()
    result.data["Gemm latency"].type = "Relu6_pointwise_13_out_nchwc_with_a_long_fused_name"
    console = Console(record=True, width=80)
    ScreenReporter(console).report(result)
    text = console.export_text()
    assert "[+11.2, +inf]" in text and "regression" in text and "inconclusive" in text


def test_an_ab_of_two_runtime_releases_names_them_in_the_heading():
    result = ab_result()
    result.meta["program_versions"] = {"python": "3.11.7", "onnxruntime": "1.32.0"}
    result.meta["control_program_versions"] = {"python": "3.11.7", "onnxruntime": "1.20.1"}
    assert "vs control eeeeeeeeeeee (onnxruntime 1.32.0 vs 1.20.1)" in " ".join(screen_text(result).split())
    result.meta["control_program_versions"] = dict(result.meta["program_versions"])
    assert result_title(result).endswith("vs control eeeeeeeeeeee")


def test_ab_rows_are_coloured_by_verdict():
    table = ab_table(ab_result(), "title")
    assert [row.style for row in table.rows] == ["red", "red", None, "green", None]


def test_failed_result_is_a_panel_with_the_failure_text_verbatim():
    result = RunResult(
        meta={"model": "tiny", "identifier": "cpu", "platform": "host"},
        status=FAILURE,
        failure="program exited with status 3 [see logs]",
    )
    text = screen_text(result)
    assert "program exited with status 3 [see logs]" in text
    assert "╭" in text and "tiny / cpu / host" in text


def test_simple_screen_prints_one_line_of_strict_json_per_result():
    stream = io.StringIO()
    reporter = SimpleScreenReporter(stream)
    reporter.report(single_result())
    reporter.report(ab_result())
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    documents = [json.loads(line, parse_constant=refuse) for line in lines]
    assert documents[0] == single_result().to_json() | {"id": documents[0]["id"]}
    assert documents[1]["data"]["Gemm latency"]["comparison"]["ci_high_pct"] is None


def test_local_reporter_writes_the_tree_with_logs(tmp_path):
    result = single_result()
    result.meta["commit_time"] = 1_700_000_000.0
    LocalReporter(tmp_path).report(result)
    directory = tmp_path / "host" / "tiny_convnet" / "cpu" / f"1700000000_{'f' * 40}"
    assert json.loads((directory / "result.json").read_text()) == result.to_json()
    assert (directory / "logs" / "treatment.log").read_text() == "AIPEP {}\n"
    assert (directory / "logs" / "treatment_stderr.log").read_text() == "warning\n"
    assert [path.name for path in tmp_path.rglob(".*")] == []


def test_local_reporter_never_overwrites_another_result_of_the_same_commit(tmp_path):
    reporter = LocalReporter(tmp_path)
    first, second = single_result(), single_result()
    reporter.report(first)
    reporter.report(second)
    reporter.report(second)
    test_dir = tmp_path / "host" / "tiny_convnet" / "cpu"
    names = sorted(path.name for path in test_dir.iterdir())
    assert names == [f"0_{'f' * 40}", f"0_{'f' * 40}_{second.id[:8]}"]
    assert json.loads((test_dir / names[0] / "result.json").read_text())["id"] == first.id
    assert json.loads((test_dir / names[1] / "result.json").read_text())["id"] == second.id


def test_local_reporter_keeps_odd_names_inside_its_root(tmp_path):
    root = tmp_path / "results"
    result = single_result()
    result.meta.update(model="../../escape", identifier="a/b", platform="..", commit="x/../../y")
    result.logs = {"../../log": "text"}
    LocalReporter(root).report(result)
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(written) == 2
    assert all(root in path.parents for path in written)
    assert not list(tmp_path.glob("*.log"))


def test_simple_local_reporter_writes_one_flat_file(tmp_path):
    result = single_result()
    SimpleLocalReporter(tmp_path).report(result)
    assert os.listdir(tmp_path) == [f"tiny_convnet__cpu__host__{result.id}.json"]
    assert json.loads((tmp_path / f"tiny_convnet__cpu__host__{result.id}.json").read_text()) == result.to_json()


def test_sqlite_reporter_saves_into_the_store(tmp_path):
    path: Path = tmp_path / "results.db"
    reporter = SqliteReporter(ResultStore(path))
    result = ab_result()
    reporter.report(result)
    reporter.close()
    with ResultStore(path) as store:
        assert store.load_run(result.id).to_json() == result.to_json()
