"""The SQLite result store: exact round trips, all-or-nothing saves, concurrent writers, driver progress."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aipep_core.errors import UserError
from aipep_core.result_record import FAILURE, MetricComparison, MetricResult, RunResult
from aipep_core.verdict import Verdict
from harness.store.result_store import ResultStore, RunNotFound
from harness.store.schema import SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent
RUN_TABLES = ("runs", "metrics", "samples", "comparisons", "logs", "devices")


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"mean": sum(values) / len(values), "p10": ordered[0], "p50": ordered[len(values) // 2], "p90": ordered[-1]}


def single_result(model: str = "tiny", commit: str = "c1", start_time: float = 100.0, **meta) -> RunResult:
    net = [1000.5, 1010.25, 990.125, 1003.0]
    conv = [700.0, 701.5, 699.25, 700.75]
    return RunResult(
        meta={
            "model": model,
            "identifier": "cpu",
            "platform": "host",
            "framework": "onnxruntime",
            "commit": commit,
            "commit_time": 1_700_000_000,
            "run_type": "benchmark",
            "start_time": start_time,
            "end_time": start_time + 5,
            "device": {"platform": "host", "identifier": "box", "cores": 2},
            **meta,
        },
        data={
            "NET latency": MetricResult("NET", "latency", "us", net, summary(net), len(net)),
            "Conv latency": MetricResult("Conv", "latency", "us", conv, summary(conv), len(conv), True),
        },
        logs={"treatment": "stdout\nAIPEP {...}\n", "treatment.stderr": ""},
    )


def ab_result() -> RunResult:
    treatment = [10.0, 10.5, 11.0, 10.25, 10.75, 10.5]
    control = [9.5, 9.75, 10.0, 9.5, 9.625, 9.875]
    net = MetricResult(
        "NET",
        "latency",
        "ms",
        treatment,
        summary(treatment),
        len(treatment),
        round_values=[10.25, 10.625, 10.5],
        control_values=control,
        control_summary=summary(control),
        control_round_values=[9.625, 9.75, 9.75],
        diff_summary={"p50": 0.75, "mean": 0.8125},
        comparison=MetricComparison(
            estimate_pct=8.1,
            ci_low_pct=4.2,
            ci_high_pct=math.inf,
            p_value=0.0625,
            q_value=None,
            rounds=3,
            verdict=Verdict.INCONCLUSIVE,
        ),
    )
    relu = MetricResult(
        "Relu",
        "latency",
        "ms",
        [0.5, 0.5],
        summary([0.5, 0.5]),
        2,
        round_values=[],
        control_values=[0.25, 0.25],
        control_round_values=[],
        comparison=MetricComparison(
            estimate_pct=-1.5,
            ci_low_pct=-3.0,
            ci_high_pct=0.5,
            p_value=0.5,
            q_value=0.75,
            rounds=3,
            verdict=Verdict.NO_CHANGE,
        ),
    )
    error = MetricResult(
        "output",
        "max_abs_error",
        "",
        [0.125],
        {"p50": 0.125},
        1,
        comparison=MetricComparison(verdict=Verdict.REGRESSION, tolerance=0.01, rounds=1),
    )
    missing_in_control = MetricResult("Gemm", "latency", "ms", [2.0], {"p50": 2.0}, 1)
    result = single_result(control_commit="c0", control_commit_time=1_699_999_000, run_type="verify")
    result.data = {key: metric for key, metric in (("NET latency", net), ("Relu latency", relu))}
    result.data["output max_abs_error"] = error
    result.data["Gemm latency"] = missing_in_control
    return result


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in RUN_TABLES}


@pytest.fixture
def store(tmp_path):
    with ResultStore(tmp_path / "results.db") as opened:
        yield opened


def test_single_arm_result_reads_back_exactly(store):
    result = single_result()
    store.save_run(result)
    loaded = store.load_run(result.id)
    assert loaded.to_json() == result.to_json()
    assert list(loaded.data) == list(result.data)
    assert loaded.logs == result.logs


def test_ab_result_with_comparisons_reads_back_exactly(store, tmp_path):
    result = ab_result()
    store.save_run(result)
    loaded = store.load_run(result.id)
    assert loaded.to_json() == result.to_json()
    assert loaded.data["Relu latency"].round_values == []
    assert loaded.data["Gemm latency"].control_values is None
    assert loaded.data["NET latency"].comparison.ci_high_pct == math.inf
    with sqlite3.connect(tmp_path / "results.db") as connection:
        verdicts = dict(connection.execute("SELECT key, verdict FROM verdicts WHERE run = ?", [result.id]))
        q_value = connection.execute("SELECT q_value FROM comparisons WHERE key = 'Relu latency'").fetchone()[0]
        run = connection.execute("SELECT commit_hash, control_commit_hash, run_type FROM runs").fetchone()
    assert verdicts == {
        "NET latency": "inconclusive",
        "Relu latency": "no_change",
        "output max_abs_error": "regression",
    }
    assert q_value == 0.75
    assert run == ("c1", "c0", "verify")


def test_every_value_is_a_sample_row(store, tmp_path):
    result = ab_result()
    store.save_run(result)
    with sqlite3.connect(tmp_path / "results.db") as connection:
        rows = connection.execute(
            "SELECT arm, series, value FROM samples WHERE key = 'NET latency' ORDER BY arm, series, position"
        ).fetchall()
    net = result.data["NET latency"]
    assert [value for arm, series, value in rows if (arm, series) == ("treatment", "iteration")] == net.values
    assert [value for arm, series, value in rows if (arm, series) == ("control", "iteration")] == net.control_values
    assert [value for arm, series, value in rows if (arm, series) == ("control", "round")] == net.control_round_values


def test_failed_result_reads_back(store):
    result = RunResult(meta={"model": "tiny", "platform": "host"}, status=FAILURE, failure="exit status 3")
    store.save_run(result)
    assert store.load_run(result.id).to_json() == result.to_json()


def test_saving_the_same_run_twice_keeps_one_copy(store, tmp_path):
    result = ab_result()
    store.save_run(result)
    once = counts(tmp_path / "results.db")
    store.save_run(result)
    assert counts(tmp_path / "results.db") == once
    result.data["NET latency"].values.append(12.0)
    store.save_run(result)
    assert store.load_run(result.id).data["NET latency"].values[-1] == 12.0
    assert counts(tmp_path / "results.db")["samples"] == once["samples"] + 1


def test_an_error_mid_save_leaves_no_trace(store, tmp_path, monkeypatch):
    kept = single_result()
    store.save_run(kept)
    before = counts(tmp_path / "results.db")

    def fail(self, result):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ResultStore, "_insert_comparisons", fail)
    broken = ab_result()
    broken.meta["device"] = {"platform": "host", "identifier": "other-box"}
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.save_run(broken)
    assert counts(tmp_path / "results.db") == before
    with pytest.raises(RunNotFound):
        store.load_run(broken.id)
    assert store.load_run(kept.id).to_json() == kept.to_json()


def test_a_process_killed_mid_save_leaves_no_trace(tmp_path):
    """The writer dies after inserting samples but before committing; the next reader sees nothing."""
    database = tmp_path / "results.db"
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store import ab_result
        from harness.store.result_store import ResultStore

        def die(self, result):
            written = self.db.execute("SELECT count(*) FROM samples").fetchone()[0]
            print(written, flush=True)
            os._exit(9)

        ResultStore._insert_comparisons = die
        ResultStore({str(database)!r}).save_run(ab_result())
        """
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 9, finished.stderr
    assert int(finished.stdout) > 0
    with ResultStore(database) as store:
        assert store.find_runs() == []
    assert counts(database) == dict.fromkeys(RUN_TABLES, 0)


def test_two_processes_writing_at_once_both_succeed(tmp_path):
    database = tmp_path / "results.db"
    go = tmp_path / "go"
    script = textwrap.dedent(
        f"""
        import pathlib, sys, time
        sys.path.insert(0, {str(REPO)!r})
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store import ab_result
        from harness.store.result_store import ResultStore

        store = ResultStore({str(database)!r})
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.01)
        for index in range(25):
            result = ab_result()
            result.meta["model"] = sys.argv[1]
            result.data["NET latency"].values = [float(value) for value in range(2000)]
            store.save_run(result)
        store.close()
        """
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", script, name], stderr=subprocess.PIPE, text=True)
        for name in ("first", "second")
    ]
    go.touch()
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr
    with ResultStore(database) as store:
        assert len(store.find_runs(model="first")) == 25
        assert len(store.find_runs(model="second")) == 25
        assert store.find_runs(limit=1)[0].data["NET latency"].values == [float(value) for value in range(2000)]


def test_find_runs_filters_and_returns_newest_first(store):
    old = single_result(commit="c1", start_time=100.0)
    new = single_result(commit="c2", start_time=200.0)
    other = single_result(model="other", commit="c2", start_time=300.0)
    for result in (new, other, old):
        store.save_run(result)
    assert [run.id for run in store.find_runs(model="tiny")] == [new.id, old.id]
    assert [run.id for run in store.find_runs(commit="c2")] == [other.id, new.id]
    assert [run.id for run in store.find_runs(limit=2)] == [other.id, new.id]
    assert store.find_runs(model="tiny", identifier="gpu") == []
    assert store.find_runs(platform="host", limit=1)[0].logs == {}


def test_database_uses_wal_and_records_its_schema_version(store, tmp_path):
    with sqlite3.connect(tmp_path / "results.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()
    with ResultStore(tmp_path / "results.db") as reopened:
        assert reopened.find_runs() == []


def test_operator_kind_reads_back(store):
    result = single_result()
    result.data["Conv latency"].op_type = "FusedConv"
    store.save_run(result)
    assert store.load_run(result.id).to_json() == result.to_json()
    assert "op_type" not in store.load_run(result.id).to_json()["data"]["NET latency"]


def test_a_version_1_file_is_migrated_and_keeps_its_runs(tmp_path):
    path = tmp_path / "results.db"
    with ResultStore(path) as store:
        store.save_run(old := single_result())
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE metrics DROP COLUMN op_type")
        connection.execute("PRAGMA user_version = 1")
    with ResultStore(path) as store:
        assert store.load_run(old.id).to_json() == old.to_json()
        new = single_result(commit="c2")
        new.data["Conv latency"].op_type = "Conv"
        store.save_run(new)
        assert store.load_run(new.id).data["Conv latency"].op_type == "Conv"
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_text_file_is_refused_with_one_line(tmp_path):
    path = tmp_path / "results.db"
    path.write_text("these are not the results you are looking for\n" * 100)
    with pytest.raises(UserError) as raised:
        ResultStore(path)
    message = str(raised.value)
    assert str(path) in message and "SQLite" in message and "\n" not in message


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(UserError, match="directory"):
        ResultStore(tmp_path)


def test_someone_elses_database_is_refused(tmp_path):
    path = tmp_path / "theirs.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(UserError, match="other tables"):
        ResultStore(path)
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(UserError, match="schema version"):
        ResultStore(newer)
