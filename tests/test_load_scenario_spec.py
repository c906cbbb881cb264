"""The `scenario` and `cold_start` blocks of a test: read into the spec, every mistake one line naming it."""

import json

import pytest

from aipep_core.errors import UserError
from aipep_core.load_scenario import LoadScenario
from aipep_core.spec import load_benchmarks

MODEL = {"name": "m", "format": "generic", "files": {}}


def load_test(tmp_path, **fields):
    path = tmp_path / "mobilenet_v1_server.json"
    test = {"identifier": "t", "metric": "delay", "iter": 1, **fields}
    path.write_text(json.dumps({"model": MODEL, "tests": [test]}))
    return load_benchmarks(path)[0].tests[0]


def error_for(tmp_path, **fields) -> str:
    with pytest.raises(UserError) as caught:
        load_test(tmp_path, **fields)
    return str(caught.value)


def test_a_server_scenario_is_read_with_its_settings(tmp_path):
    scenario = {"name": "server", "target_qps": 50, "latency_bound_ms": 20, "workers": 2, "max_batch": 4}
    test = load_test(tmp_path, scenario=scenario, cold_start=True)
    assert test.scenario == LoadScenario(name="server", target_qps=50.0, latency_bound_ms=20.0, workers=2, max_batch=4)
    assert test.cold_start is True
    assert test.scenario.program_flags()[:4] == ["--scenario", "server", "--target_qps", "50.0"]


def test_a_test_without_the_blocks_has_neither(tmp_path):
    test = load_test(tmp_path)
    assert (test.scenario, test.cold_start) == (None, False)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"scenario": {"name": "burst"}},
            'mobilenet_v1_server.json: tests[0].scenario.name: expected one of "single_stream", "multi_stream", '
            '"server", "offline", got "burst"',
        ),
        (
            {"scenario": {"name": "server", "target_qps": 0}},
            "mobilenet_v1_server.json: tests[0].scenario.target_qps: expected queries per second > 0, got 0",
        ),
        (
            {"scenario": {"name": "offline", "workers": 0}},
            "mobilenet_v1_server.json: tests[0].scenario.workers: expected an integer >= 1, got 0",
        ),
        (
            {"scenario": {"name": "offline", "batch_timeout_ms": "soon"}},
            "mobilenet_v1_server.json: tests[0].scenario.batch_timeout_ms: expected a number of milliseconds >= 0, "
            'got "soon"',
        ),
        (
            {"scenario": {"target_qps": 5}},
            'mobilenet_v1_server.json: tests[0].scenario.name: missing, expected one of "single_stream", '
            '"multi_stream", "server", "offline"',
        ),
        (
            {"scenario": {"name": "server"}},
            "mobilenet_v1_server.json: tests[0].scenario.target_qps: missing, the server scenario needs queries "
            "per second > 0",
        ),
        (
            {"scenario": {"name": "single_stream", "samples_per_query": 4}},
            "mobilenet_v1_server.json: tests[0].scenario.samples_per_query: only the multi_stream scenario takes "
            "it, this is single_stream",
        ),
        (
            {"cold_start": "yes"},
            'mobilenet_v1_server.json: tests[0].cold_start: expected true or false, got "yes"',
        ),
    ],
)
def test_a_bad_field_is_one_line_naming_file_and_field(tmp_path, fields, expected):
    assert error_for(tmp_path, **fields) == expected


def test_an_unknown_scenario_field_is_named(tmp_path):
    message = error_for(tmp_path, scenario={"name": "offline", "qps": 5})
    assert message.startswith("mobilenet_v1_server.json: tests[0].scenario.qps: unexpected field, expected one of ")
    assert "target_qps" in message and "\n" not in message
