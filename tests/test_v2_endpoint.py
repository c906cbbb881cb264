"""Serving endpoints: the v2_endpoint framework against real MLServer processes on loopback.

Two servers serve the same generated ONNX model; the second answers every request a fixed
delay late, so an A/B whose arms point at one each must be flagged, single stream and under
LoadGen's load. The servers are started once for the module, on ports the kernel chooses, and
ended at teardown. Load runs are short (a fraction of a second of LoadGen's min_duration), so
many end INVALID by early stopping: the tests read what LoadGen said, never that a load held.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from aipep_core.errors import UserError
from aipep_core.job import Job
from aipep_core.result_record_schema import check_record
from aipep_core.spec import load_benchmarks
from frameworks import get_framework
from frameworks.base import CommandContext
from frameworks.onnxruntime import bench_program as onnxruntime_program
from frameworks.v2_endpoint import bench_program
from frameworks.v2_endpoint.framework import BENCH_PROGRAM
from harness.cli import main
from harness.cli_args import parse_info
from harness.generated_models import generate_model
from platforms.host import run_process
from tests.mlserver_fixture import ServedModel, start_mlserver

MODEL = "tiny_convnet"
SHIPPED_SPEC = (
    Path(__file__).resolve().parent.parent / "specifications" / "models" / "v2_endpoint" / MODEL / f"{MODEL}.json"
)
COLD_MODEL = "tiny_convnet_cold"
# Answers its first requests (the probes and warmup a load run starts with), then only errors.
BREAKING_MODEL = "tiny_convnet_breaking"
ANSWERS_BEFORE_BREAKING = 30
SHIPPED_SCENARIO_SPECS = {
    name: SHIPPED_SPEC.with_name(f"{MODEL}_{name}.json")
    for name in ("single_stream", "multi_stream", "server", "offline")
}
# Short runs of each scenario; the server's rate is one the tiny model holds only on a quiet machine,
# and nothing here depends on whether it does.
SCENARIOS = {
    "single_stream": {"name": "single_stream", "min_duration_s": 0.3, "min_queries": 16},
    "multi_stream": {"name": "multi_stream", "samples_per_query": 4, "latency_bound_ms": 200, "min_duration_s": 0.3},
    "server": {"name": "server", "target_qps": 50, "latency_bound_ms": 200, "min_duration_s": 0.5, "workers": 2},
    "offline": {"name": "offline", "min_duration_s": 0.3, "workers": 2, "max_batch": 4, "batch_timeout_ms": 1},
}
AB_ROUNDS = {"min_rounds": 6, "max_rounds": 6, "regression_threshold": 25}
# Far above what a request to the tiny model costs, even on a busy machine: every round shows it.
DELAY_MS = 100.0
PROGRAM_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "tiny_convnet.onnx"
    generate_model("tiny_convnet.onnx", path)
    return path


@pytest.fixture(scope="module")
def fast_server(tmp_path_factory, tiny_onnx):
    server = start_mlserver(
        tmp_path_factory.mktemp("fast") / "repository",
        [
            ServedModel(MODEL, tiny_onnx),
            ServedModel(COLD_MODEL, tiny_onnx),
            ServedModel(BREAKING_MODEL, tiny_onnx, fail_after=ANSWERS_BEFORE_BREAKING),
        ],
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory, tiny_onnx):
    server = start_mlserver(
        tmp_path_factory.mktemp("slow") / "repository", [ServedModel(MODEL, tiny_onnx, delay_ms=DELAY_MS)]
    )
    yield server
    server.stop()


@pytest.fixture
def refusing_url():
    """A port that is bound and never listened on: every connection to it is refused, and no other
    process can take it while the test runs."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


def spec_file(tmp_path: Path, target: dict, **test) -> Path:
    document = {
        "model": {"name": MODEL, "format": "v2_endpoint"},
        "tests": [{"identifier": "endpoint", "metric": "delay", "warmup": 1, "iter": 5, "target": target, **test}],
    }
    path = tmp_path / "endpoint.json"
    path.write_text(json.dumps(document))
    return path


def v2_target(url: str, model: str = MODEL, **fields) -> dict:
    return {"protocol": "v2", "url": url, "model": model, **fields}


def harness(tmp_path, capsys, spec: Path, *args: str) -> tuple[int, list[dict], str]:
    status = main(
        [
            "--db", str(tmp_path / "aipep.db"),
            "--model_cache", str(tmp_path / "models"),
            "-b", str(spec),
            "--simple_screen_reporter",
            *args,
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    results = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    return status, results, captured.err


def endpoint_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "v2 endpoint" in line]


def test_single_stream_through_the_harness_reports_net_latency(tmp_path, capsys, fast_server):
    status, [result], err = harness(tmp_path, capsys, spec_file(tmp_path, v2_target(fast_server.url)))
    assert status == 0, err
    assert result["meta"]["framework"] == "v2_endpoint"
    latency = result["data"]["NET latency"]
    assert latency["num_runs"] == 5 and latency["unit"] == "us"
    assert all(value > 0 for value in latency["values"])
    assert "NET cold_start" not in result["data"]


def test_the_shipped_spec_runs_against_the_server_an_arm_names(tmp_path, capsys, fast_server):
    arms = {"treatment": {"target": {"url": fast_server.url}}}
    status, [result], err = harness(tmp_path, capsys, SHIPPED_SPEC, "--info", json.dumps(arms))
    assert status == 0, err
    assert result["data"]["NET latency"]["num_runs"] == load_benchmarks(SHIPPED_SPEC)[0].tests[0].iter
    assert result["meta"]["arm_options"] == {"treatment": {"target": {"url": fast_server.url}}}


def test_an_endpoint_that_answers_a_fixed_delay_later_is_a_regression(tmp_path, capsys, fast_server, slow_server):
    spec = spec_file(tmp_path, v2_target(fast_server.url), iter=3, min_rounds=7, max_rounds=8)
    arms = {
        "treatment": {"commit": "slow", "target": {"url": slow_server.url}},
        "control": {"commit": "fast", "target": {"url": fast_server.url}},
    }
    status, [result], err = harness(tmp_path, capsys, spec, "--info", json.dumps(arms), "--fail_on_regression")
    assert status == 3, err
    latency = result["data"]["NET latency"]
    assert latency["comparison"]["verdict"] == "regression"
    # The slow server sleeps before it answers: no request to it can take less.
    assert min(latency["values"]) >= DELAY_MS * 1000
    assert result["meta"]["arm_options"]["treatment"] == {"target": {"url": slow_server.url}}


def test_cold_start_times_a_load_request_to_the_first_answer(tmp_path, capsys, fast_server):
    loads_before = fast_server.log_text().count(f"Loaded model '{COLD_MODEL}' successfully")
    spec = spec_file(tmp_path, v2_target(fast_server.url, COLD_MODEL), cold_start=True)
    status, [result], err = harness(tmp_path, capsys, spec)
    assert status == 0, err
    [cold_start] = result["data"]["NET cold_start"]["values"]
    assert cold_start > 0 and result["data"]["NET cold_start"]["unit"] == "us"
    assert result["data"]["NET latency"]["num_runs"] == 5
    log = fast_server.log_text()
    # The server really unloaded the model and loaded it again for the timed request.
    assert f"Unloaded model '{COLD_MODEL}'" in log
    assert log.count(f"Loaded model '{COLD_MODEL}' successfully") == loads_before + 1


def test_an_endpoint_that_is_down_is_one_line_and_a_recorded_failure(tmp_path, capsys, refusing_url):
    status, [result], err = harness(tmp_path, capsys, spec_file(tmp_path, v2_target(refusing_url)))
    assert status == 1
    assert result["status"] == "failure"
    [line] = endpoint_lines(err)
    assert f"v2 endpoint {refusing_url}" in line and "connection refused" in line
    assert "Traceback" not in err and "Traceback" not in json.dumps(result)


def test_a_model_the_endpoint_does_not_know_is_one_line_naming_it(tmp_path, capsys, fast_server):
    status, [result], err = harness(tmp_path, capsys, spec_file(tmp_path, v2_target(fast_server.url, "no_such_net")))
    assert status == 1 and result["status"] == "failure"
    [line] = endpoint_lines(err)
    assert "model 'no_such_net' not found" in line
    assert "Traceback" not in err


def test_an_endpoint_that_answers_errors_is_one_line_and_a_recorded_failure(tmp_path, capsys, fast_server):
    # The model's input is [1, 3, 32, 32]: the server cannot run a batch of two and answers an error.
    inputs = {"input": {"shapes": [[2, 3, 32, 32]], "type": "float"}}
    spec = spec_file(tmp_path, v2_target(fast_server.url), inputs=inputs)
    status, [result], err = harness(tmp_path, capsys, spec)
    assert status == 1 and result["status"] == "failure"
    [line] = endpoint_lines(err)
    assert "inference answered 500" in line
    assert "Traceback" not in err


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_scenario_runs_against_the_endpoint_with_loadgens_verdict(tmp_path, capsys, fast_server, scenario):
    spec = spec_file(tmp_path, v2_target(fast_server.url), scenario=SCENARIOS[scenario])
    status, [result], err = harness(tmp_path, capsys, spec)
    assert status == 0, err
    latency, throughput = result["data"]["NET latency"], result["data"]["NET throughput"]
    assert {"p50", "p90", "p95", "p99", "p999"} <= set(latency["summary"])
    assert latency["unit"] == "us" and all(value > 0 for value in latency["values"])
    assert throughput["values"][0] > 0
    assert throughput["unit"] == ("samples/s" if scenario == "offline" else "queries/s")
    facts = result["meta"]["scenario"]
    assert facts["name"] == scenario and facts["achieved_qps"] == throughput["values"][0]
    assert facts["valid"] == (facts["invalid_reasons"] == [])
    assert "met" in facts["early_stopping"]
    check_record(result)


@pytest.mark.parametrize(
    ("scenario", "flagged"),
    [
        (
            {
                "name": "server",
                "target_qps": 10,
                "latency_bound_ms": 1000,
                "min_duration_s": 0.5,
                "min_queries": 5,
                "workers": 2,
            },
            "NET latency",
        ),
        ({"name": "offline", "min_duration_s": 0.3, "workers": 2}, "NET throughput"),
    ],
)
def test_a_server_side_delay_is_flagged_under_load_and_an_a_a_is_not(
    tmp_path, capsys, fast_server, slow_server, scenario, flagged
):
    spec = spec_file(tmp_path, v2_target(fast_server.url), scenario=scenario, **AB_ROUNDS)
    slowed = {
        "treatment": {"commit": "slow", "target": {"url": slow_server.url}},
        "control": {"commit": "fast", "target": {"url": fast_server.url}},
    }
    status, [result], err = harness(tmp_path, capsys, spec, "--info", json.dumps(slowed))
    assert status == 0, err
    comparison = result["data"][flagged]["comparison"]
    assert comparison["verdict"] == "regression"
    if flagged == "NET throughput":
        assert comparison["estimate_pct"] < -25
    assert len(result["meta"]["scenario"]["rounds"]) == AB_ROUNDS["min_rounds"]
    check_record(result)
    same = {"treatment": {"commit": "a"}, "control": {"commit": "a2"}}
    status, [result], err = harness(tmp_path, capsys, spec, "--info", json.dumps(same))
    assert status == 0, err
    assert result["data"][flagged]["comparison"]["verdict"] != "regression"


def test_an_endpoint_that_breaks_down_under_load_is_one_line_and_a_recorded_failure(tmp_path, capsys, fast_server):
    scenario = {"name": "server", "target_qps": 50, "latency_bound_ms": 200, "min_duration_s": 2, "workers": 2}
    spec = spec_file(tmp_path, v2_target(fast_server.url, BREAKING_MODEL), scenario=scenario)
    status, [result], err = harness(tmp_path, capsys, spec)
    assert status == 1 and result["status"] == "failure"
    [line] = endpoint_lines(err)
    assert f"v2 endpoint {fast_server.url}: inference answered 500" in line
    assert f"broken after {ANSWERS_BEFORE_BREAKING} requests" in line
    assert "Traceback" not in err and "Traceback" not in json.dumps(result)


@pytest.mark.parametrize(
    "scenario",
    [None, {"name": "server", "target_qps": 50, "latency_bound_ms": 200, "min_duration_s": 2, "workers": 2}],
    ids=["single_stream", "server"],
)
def test_an_endpoint_that_goes_down_mid_run_is_one_line_and_a_recorded_failure(tmp_path, capsys, tiny_onnx, scenario):
    # One warmup request per worker and two more answered, then the server's process is gone.
    server = start_mlserver(tmp_path / "dying", [ServedModel(MODEL, tiny_onnx, exit_after=3)])
    try:
        spec = spec_file(tmp_path, v2_target(server.url), **({"scenario": scenario} if scenario else {}))
        status, [result], err = harness(tmp_path, capsys, spec)
        assert server.process.wait(timeout=PROGRAM_TIMEOUT_S) != 0
    finally:
        server.stop()
    assert status == 1 and result["status"] == "failure"
    [line] = endpoint_lines(err)
    closed = f"bench_program.py: v2 endpoint {server.url}: inference: connection closed."
    # With two workers, the other worker's next request may reach the address after the process is
    # gone: which of the two a run reports first is the scheduler's choice, and both name the cause.
    refused = f"bench_program.py: v2 endpoint {server.url}: inference: connection refused (is the server running?)"
    assert line == closed or (scenario is not None and line == refused), line
    assert "Traceback" not in err and "Traceback" not in json.dumps(result)


def test_an_endpoint_that_is_down_under_a_scenario_is_one_line(tmp_path, capsys, refusing_url):
    spec = spec_file(tmp_path, v2_target(refusing_url), scenario=SCENARIOS["offline"])
    status, [result], err = harness(tmp_path, capsys, spec)
    assert status == 1 and result["status"] == "failure"
    [line] = endpoint_lines(err)
    assert "connection refused" in line and "Traceback" not in err


@pytest.mark.parametrize("scenario", sorted(SHIPPED_SCENARIO_SPECS))
def test_the_shipped_scenario_specs_give_the_program_loadgens_flags(scenario):
    (spec,) = load_benchmarks(SHIPPED_SCENARIO_SPECS[scenario])
    test = spec.tests[0]
    assert test.scenario.name == scenario
    [command] = get_framework("v2_endpoint").compose(test, CommandContext(program=sys.executable))
    assert command[command.index("--scenario") + 1] == scenario
    assert command[command.index("--workers") + 1] == str(test.scenario.workers)
    assert "--cold_start" not in command


def test_the_shipped_server_spec_runs_against_the_server_an_arm_names(tmp_path, capsys, fast_server):
    arms = {"treatment": {"target": {"url": fast_server.url}}}
    status, [result], err = harness(tmp_path, capsys, SHIPPED_SCENARIO_SPECS["server"], "--info", json.dumps(arms))
    assert status == 0, err
    assert result["meta"]["scenario"]["name"] == "server"
    assert result["data"]["NET latency"]["summary"]["p99"] > 0


def test_a_cold_start_under_a_scenario_loads_the_model_once_before_the_load(tmp_path, capsys, fast_server):
    loads_before = fast_server.log_text().count(f"Loaded model '{COLD_MODEL}' successfully")
    spec = spec_file(tmp_path, v2_target(fast_server.url, COLD_MODEL), cold_start=True, scenario=SCENARIOS["offline"])
    status, [result], err = harness(tmp_path, capsys, spec)
    assert status == 0, err
    assert len(result["data"]["NET cold_start"]["values"]) == 1
    assert result["data"]["NET throughput"]["values"][0] > 0
    assert fast_server.log_text().count(f"Loaded model '{COLD_MODEL}' successfully") == loads_before + 1


def metadata(url: str) -> dict:
    endpoint = bench_program.Endpoint(url, MODEL)
    client = endpoint.connect()
    try:
        return bench_program.model_metadata(endpoint, client, load_if_absent=False)
    finally:
        client.close()


def test_inputs_are_the_bytes_the_onnxruntime_program_feeds(fast_server, tiny_onnx):
    [feeds] = bench_program.model_feeds(metadata(fast_server.url), [])
    session = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"])
    expected = onnxruntime_program.make_inputs(session, [])
    assert feeds.keys() == expected.keys()
    for name, array in expected.items():
        assert feeds[name].dtype == array.dtype and np.array_equal(feeds[name], array)


def test_the_request_path_is_a_callable_a_load_generator_can_drive(fast_server):
    path = bench_program.open_request_path(bench_program.Endpoint(fast_server.url, MODEL), samples=3)
    try:
        assert len(path.requests) == 3
        assert path.infer([0, 1, 2, 5]) is None
    finally:
        path.close()


def test_a_request_path_to_a_model_the_endpoint_does_not_know_fails_naming_it(fast_server):
    with pytest.raises(bench_program.EndpointError, match=r"model 'no_such_net' not found \(the metadata request"):
        bench_program.open_request_path(bench_program.Endpoint(fast_server.url, "no_such_net"))
    feeds = bench_program.model_feeds(metadata(fast_server.url), [])
    unknown = bench_program.RequestPath(bench_program.Endpoint(fast_server.url, "no_such_net"), feeds, [])
    try:
        with pytest.raises(bench_program.EndpointError, match=r"model 'no_such_net' not found \(inference answered"):
            unknown.infer([0])
    finally:
        unknown.close()


def test_the_program_refuses_a_url_it_cannot_use_with_one_line():
    result = run_process(
        [sys.executable, str(BENCH_PROGRAM), "--url", "127.0.0.1:8080", "--model", MODEL], timeout=PROGRAM_TIMEOUT_S
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "bench_program.py: error: --url 127.0.0.1:8080: expected http(s)://HOST[:PORT][/PATH]"
    ]


def test_each_arm_runs_against_its_own_endpoint():
    (spec,) = load_benchmarks(SHIPPED_SPEC)
    test = spec.tests[0]
    framework = get_framework("v2_endpoint")
    own = {"target": {"url": "http://10.0.0.2:8000/prefix", "version": "2"}}
    [shared] = framework.compose(test, CommandContext(program=sys.executable))
    [overridden] = framework.compose(test, CommandContext(program=sys.executable, arm_options=own))
    assert shared[shared.index("--url") + 1] == test.target.url
    assert shared[shared.index("--model_version") + 1] == ""
    assert overridden[overridden.index("--url") + 1] == "http://10.0.0.2:8000/prefix"
    assert overridden[overridden.index("--model") + 1] == test.target.model
    assert overridden[overridden.index("--model_version") + 1] == "2"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"protocol": "v2", "url": "http://h:1"}, r"^endpoint\.json: tests\[0\]\.target\.model: missing, expected"),
        ({"protocol": "grpc", "url": "http://h:1", "model": "m"}, r"^endpoint\.json: tests\[0\]\.target\.protocol: "),
        ({"protocol": "v2", "url": "h:1", "model": "m"}, r"^endpoint\.json: tests\[0\]\.target\.url: expected an http"),
        ({"protocol": "v2", "url": "http://h:1", "model": "m", "urll": "x"}, r"\.target\.urll: unexpected field"),
        ({"protocol": "v2", "url": "http://h:1", "model": "m", "version": 2}, r"\.target\.version: expected a model"),
    ],
)
def test_a_bad_target_field_is_one_line_naming_file_and_field(tmp_path, target, message):
    with pytest.raises(UserError, match=message):
        load_benchmarks(spec_file(tmp_path, target))


def test_a_bad_arm_target_is_exit_2_naming_the_field(tmp_path, capsys):
    spec = spec_file(tmp_path, v2_target("http://127.0.0.1:8080"))
    arms = {"treatment": {"target": {"url": "ftp://h"}}}
    status, _, err = harness(tmp_path, capsys, spec, "--info", json.dumps(arms))
    assert status == 2
    assert err.strip().splitlines() == [
        "harness: error: --info: treatment.target.url: expected an http(s) URL of the server, such as "
        '"http://127.0.0.1:8080" (no query or fragment), got "ftp://h"'
    ]


def test_a_target_under_a_framework_that_sends_no_requests_is_refused(tmp_path, capsys):
    spec = spec_file(tmp_path, v2_target("http://127.0.0.1:8080"))
    status, _, err = harness(tmp_path, capsys, spec, "--framework", "onnxruntime")
    assert status == 2
    assert "tests[0].target: the onnxruntime framework runs a local program" in err


def test_an_endpoint_test_without_a_target_is_one_line(tmp_path):
    document = {
        "model": {"name": MODEL, "format": "v2_endpoint"},
        "tests": [{"identifier": "t", "metric": "delay", "iter": 1}],
    }
    path = tmp_path / "no_target.json"
    path.write_text(json.dumps(document))
    (spec,) = load_benchmarks(path)
    with pytest.raises(UserError, match=r"^no_target\.json: tests\[0\]\.target: missing"):
        get_framework("v2_endpoint").compose(spec.tests[0], CommandContext(program=sys.executable))


def test_cold_start_must_be_true_or_false(tmp_path):
    # The spec's schema checks it, so a server is unloaded only when a test asks plainly.
    with pytest.raises(UserError, match=r"^endpoint\.json: tests\[0\]\.cold_start: expected true or false"):
        load_benchmarks(spec_file(tmp_path, v2_target("http://127.0.0.1:8080"), cold_start="yes"))


def test_an_arm_target_field_that_no_endpoint_has_is_named():
    arms = {"treatment": {}, "control": {"target": {"url": "http://h:1", "port": 1}}}
    with pytest.raises(
        UserError, match=r"^--info: control\.target\.port: unexpected field, expected one of url, model"
    ):
        parse_info(json.dumps(arms))
    arms = parse_info(json.dumps({"treatment": {"target": {"model": "other"}}}))
    assert arms.treatment.options == {"target": {"model": "other"}}
    # The arm's endpoint travels with the job, to a lab worker too.
    job = Job(specs=("endpoint.json",), arms=arms)
    assert Job.from_json(job.to_json()) == job
