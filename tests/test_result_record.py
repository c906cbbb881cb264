"""The one result record: what the harness writes matches the shipped schema, and every version of it reads back.

Records already on disk, in a store or in an outbox were written before records had a
version; they must read into the same model as new ones, with verdicts as the Verdict
enum, and the results server must take both. A record that does not match the schema is
refused naming the field, and one from a newer aipep is refused rather than misread.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator

from aipep_core import number_format
from aipep_core.result_record import (
    SCHEMA_VERSION,
    MetricComparison,
    MetricResult,
    RunResult,
    UnknownSchemaVersion,
)
from aipep_core.result_record_schema import SCHEMA, RecordMismatch, check_record
from aipep_core.strict_json import strict_json
from aipep_core.verdict import Verdict
from harness.reporters.outbox import Outbox
from harness.reporters.remote import remote_reporter
from harness.reporters.results_server import RetryPolicy
from harness.store.result_store import ResultStore
from tests.server import conftest as server_fixtures
from tests.server.requests_helpers import TIMEOUT, get_json, post_record

# The server tests' fixtures: a fresh database of each kind, the session's PostgreSQL, a running server.
postgres = server_fixtures.postgres
database_url = server_fixtures.database_url
server = server_fixtures.server

# Operators print observer lines; Reshape is below the timer's resolution in every other
# iteration, so its comparison carries a note and no statistics.
PROGRAM = """
import json, random, sys
for i in range(int(sys.argv[1])):
    for name, value in (("NET", 1000 + random.random()), ("Conv", 600 + random.random()), ("Reshape", i % 2)):
        print("AIPEP", json.dumps({"type": name, "metric": "latency", "unit": "us", "value": float(value)}))
"""

# A record as the harness wrote it before records had versions (RunResult.to_json of that
# time): no schema_version, the comparison as a plain object with the verdict as text.
VERSION_1_RECORD = {
    "id": "0123456789abcdef0123456789abcdef",
    "status": "success",
    "failure": None,
    "meta": {
        "platform": "host",
        "device": {"platform": "host", "identifier": "host", "cores": 4},
        "framework": "generic",
        "model": "scripted",
        "identifier": "t",
        "metric": "delay",
        "commit": "new",
        "commit_time": 2,
        "control_commit": "old",
        "run_type": "benchmark",
        "start_time": 1700000000.5,
        "end_time": 1700000030.25,
    },
    "data": {
        "NET latency": {
            "type": "NET",
            "metric": "latency",
            "unit": "us",
            "values": [1000.5, 1001.0, 999.75],
            "summary": {"mean": 1000.4, "p0": 999.75, "p10": 999.9, "p50": 1000.5, "p90": 1000.9, "p100": 1001.0},
            "num_runs": 3,
            "from_tool_summary": False,
            "round_values": [1000.5],
            "control_values": [990.0, 991.0, 989.5],
            "control_summary": {"p50": 990.0},
            "control_round_values": [990.0],
            "diff_summary": {"p50": 10.5},
            "comparison": {
                "estimate_pct": 1.06,
                "ci_low_pct": 0.5,
                "ci_high_pct": None,
                "p_value": 0.0039,
                "q_value": None,
                "rounds": 8,
                "verdict": "regression",
            },
        },
        "Reshape latency": {
            "type": "Reshape",
            "metric": "latency",
            "unit": "us",
            "values": [0.0, 1.0],
            "summary": {"p50": 0.5},
            "num_runs": 2,
            "from_tool_summary": False,
            "comparison": {
                "estimate_pct": None,
                "ci_low_pct": None,
                "ci_high_pct": None,
                "p_value": None,
                "q_value": None,
                "rounds": 8,
                "verdict": "inconclusive",
                "note": "timed at 0",
            },
        },
        "output max_abs_error": {
            "type": "output",
            "metric": "max_abs_error",
            "unit": "",
            "values": [0.125],
            "summary": {"p50": 0.125},
            "num_runs": 1,
            "from_tool_summary": False,
            "comparison": {"verdict": "no_change", "tolerance": 0.5, "rounds": 1},
        },
    },
}


def version_1_model() -> RunResult:
    """VERSION_1_RECORD built with the model's constructors, as the current harness would hold it."""
    net = VERSION_1_RECORD["data"]["NET latency"]
    return RunResult(
        id=VERSION_1_RECORD["id"],
        meta=copy.deepcopy(VERSION_1_RECORD["meta"]),
        data={
            "NET latency": MetricResult(
                "NET",
                "latency",
                "us",
                list(net["values"]),
                dict(net["summary"]),
                3,
                round_values=[1000.5],
                control_values=[990.0, 991.0, 989.5],
                control_summary={"p50": 990.0},
                control_round_values=[990.0],
                diff_summary={"p50": 10.5},
                comparison=MetricComparison(
                    Verdict.REGRESSION, rounds=8, estimate_pct=1.06, ci_low_pct=0.5, p_value=0.0039
                ),
            ),
            "Reshape latency": MetricResult(
                "Reshape",
                "latency",
                "us",
                [0.0, 1.0],
                {"p50": 0.5},
                2,
                comparison=MetricComparison(Verdict.INCONCLUSIVE, rounds=8, note="timed at 0"),
            ),
            "output max_abs_error": MetricResult(
                "output",
                "max_abs_error",
                "",
                [0.125],
                {"p50": 0.125},
                1,
                comparison=MetricComparison(Verdict.NO_CHANGE, rounds=1, tolerance=0.5),
            ),
        },
    )


def run_harness(tmp_path: Path, *, ab: bool) -> list[dict]:
    """The records a real harness process writes for a generic spec whose program prints observer lines."""
    script = tmp_path / "program.py"
    script.write_text(PROGRAM)
    test = {"identifier": "t", "metric": "delay", "iter": 4, "commands": [f"{{program}} {script} {{iter}}"]}
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"model": {"name": "scripted", "format": "generic"}, "tests": [test]}))
    info = {"treatment": {"program": sys.executable, "commit": "new", "commit_time": 2}}
    if ab:
        info["control"] = {"program": sys.executable, "commit": "old", "commit_time": 1}
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-b", str(spec), "--info", json.dumps(info), "--local_reporter", str(out)]
        + ["--db", str(tmp_path / "aipep.db"), "--model_cache", str(tmp_path / "models")]
        + ["--min_rounds", "6", "--max_rounds", "6"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(path.read_text()) for path in sorted(out.rglob("result.json"))]


@pytest.mark.parametrize("ab", [True, False], ids=["ab", "single"])
def test_a_record_the_harness_writes_matches_the_shipped_schema(tmp_path, ab):
    (written,) = run_harness(tmp_path, ab=ab)
    check_record(written)
    assert written["schema_version"] == SCHEMA_VERSION
    record = RunResult.from_json(written)
    with ResultStore(tmp_path / "aipep.db") as store:
        stored = store.load_run(record.id)
    check_record(json.loads(strict_json(stored.to_json())))
    timed = {key for key in record.data if not key.startswith("PROCESS ")}
    assert timed == {"NET latency", "Conv latency", "Reshape latency"}
    assert {"PROCESS peak_rss", "PROCESS cpu_time"} <= set(record.data)
    if ab:
        reshape = record.data["Reshape latency"].comparison
        assert reshape.verdict is Verdict.INCONCLUSIVE and not reshape.measured and reshape.note
        for read in (record, stored):
            assert all(isinstance(metric.comparison.verdict, Verdict) for metric in read.data.values())
        assert {key: m.comparison.verdict for key, m in stored.data.items()} == {
            key: m.comparison.verdict for key, m in record.data.items()
        }
    else:
        assert all(metric.comparison is None for metric in record.data.values())


def test_an_old_record_and_a_new_one_read_into_the_same_model():
    old = RunResult.from_json(copy.deepcopy(VERSION_1_RECORD))
    new_document = version_1_model().to_json()
    assert new_document["schema_version"] == SCHEMA_VERSION
    new = RunResult.from_json(new_document)
    assert old == new == version_1_model()
    assert old.data["NET latency"].comparison.verdict is Verdict.REGRESSION
    assert old.data["output max_abs_error"].comparison.verdict is Verdict.NO_CHANGE
    assert RunResult.from_json(old.to_json()) == old
    check_record(VERSION_1_RECORD)
    check_record(new_document)


def test_a_record_of_a_newer_version_is_refused_not_misread():
    newer = VERSION_1_RECORD | {"schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(UnknownSchemaVersion, match=f"schema_version: expected {SCHEMA_VERSION} or lower"):
        RunResult.from_json(newer)
    with pytest.raises(RecordMismatch, match=f"got {SCHEMA_VERSION + 1}$"):
        check_record(newer)


def test_the_shipped_schema_and_the_api_document_know_the_models_version():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["properties"]["schema_version"]["maximum"] == SCHEMA_VERSION
    api = json.loads(resources.files("server").joinpath("openapi.json").read_text())
    assert api["components"]["schemas"]["ResultRecord"]["properties"]["schema_version"]["maximum"] == SCHEMA_VERSION


MISMATCHES = [
    (
        lambda r: r["data"]["NET latency"]["summary"].update(p50="fast"),
        'data["NET latency"].summary.p50: expected a number or null, got "fast"',
    ),
    (
        lambda r: r["data"]["NET latency"]["values"].append(math.nan),
        'data["NET latency"].values: expected a list of numbers, got item 3 = NaN',
    ),
    (
        lambda r: r["data"]["NET latency"]["control_values"].append(10**400),
        'data["NET latency"].control_values: expected a list of numbers, got item 3 = 1',
    ),
    (
        lambda r: r["data"]["Reshape latency"]["comparison"].pop("verdict"),
        'data["Reshape latency"].comparison.verdict: expected one of regression',
    ),
    (
        lambda r: r["data"]["NET latency"].update(num_runs=3.0),
        'data["NET latency"].num_runs: expected a whole number of at least 0, got 3.0',
    ),
    (lambda r: r.update(id="ab\n"), 'id: expected a hex string of 1 to 128 characters, got "ab\\n"'),
    (
        lambda r: r["meta"].update(command="python run.py"),
        'meta.command: expected a list of strings, got "python run.py"',
    ),
]


@pytest.mark.parametrize(("change", "reason"), MISMATCHES, ids=[reason.split(":")[0] for _, reason in MISMATCHES])
def test_a_mismatch_is_named_by_its_path_in_the_record(change, reason):
    record = copy.deepcopy(VERSION_1_RECORD)
    change(record)
    with pytest.raises(RecordMismatch) as raised:
        check_record(record)
    assert str(raised.value).startswith(reason)


def stored_record(server, record_id: str) -> dict:
    return get_json(server, f"/api/v1/results/{record_id}").json()


def test_the_server_takes_an_old_record_and_a_new_one(server):
    old = copy.deepcopy(VERSION_1_RECORD)
    new = version_1_model().to_json()
    new["id"] = "fedcba9876543210" * 2
    new["meta"]["commit"], new["meta"]["commit_time"] = "newer", 3
    for record in (old, new):
        assert post_record(server, record).status_code == 201, record["id"]
        assert stored_record(server, record["id"]) == json.loads(strict_json(record))
    points = get_json(
        server, "/api/v1/series", model="scripted", identifier="t", platform="host", key="NET latency"
    ).json()["points"]
    assert [(point["commit"], point["verdict"]) for point in points] == [("new", "regression"), ("newer", "regression")]
    page = requests.get(f"{server.url}/results/{old['id']}", timeout=TIMEOUT)
    assert page.status_code == 200
    assert number_format.probability(0.0039) in page.text


def test_the_server_refuses_a_record_off_the_schema_naming_the_path(server):
    record = copy.deepcopy(VERSION_1_RECORD)
    record["data"]["NET latency"]["summary"]["p50"] = "fast"
    answer = post_record(server, record)
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": 'data["NET latency"].summary.p50: expected a number or null, got "fast"'},
    )
    newer = VERSION_1_RECORD | {"schema_version": SCHEMA_VERSION + 1}
    answer = post_record(server, newer)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(f"schema_version: expected {SCHEMA_VERSION} or lower")
    assert get_json(server, f"/api/v1/results/{record['id']}").status_code == 404


def test_an_old_record_waiting_in_an_outbox_is_delivered(server, tmp_path):
    """A record queued by an aipep from before versions, sent by this one to this server."""
    outbox = Outbox(tmp_path / "outbox")
    outbox.pending_dir.mkdir(parents=True)
    outbox.put(VERSION_1_RECORD["id"], strict_json(VERSION_1_RECORD))
    reporter = remote_reporter(server.url, server.token, outbox.root, retry=RetryPolicy(attempts=2, first_delay=0.01))
    reporter.deliver_queued()
    reporter.close()
    assert outbox.queued() == []
    delivered = stored_record(server, VERSION_1_RECORD["id"])
    assert delivered == json.loads(strict_json(VERSION_1_RECORD))
    assert RunResult.from_json(delivered) == version_1_model()
