"""Load scenarios end to end: real bench programs, real sessions and interpreters, real MLPerf LoadGen.

Durations are short (LoadGen's min_duration a fraction of a second), so many runs end INVALID by
early stopping; the tests read what LoadGen said, they never expect a load to be held by luck.
A slower arm is an interpreter whose sitecustomize puts a fixed sleep in front of every run.
"""

import json
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from aipep_core.job import Arm, Arms, Job
from aipep_core.result_record_schema import check_record
from aipep_core.spec import parse_spec
from aipep_core.verdict import Verdict
from frameworks import get_framework
from harness.ab_run import run_ab
from harness.arm import ArmRunner
from harness.generated_models.registry import generate_model
from harness.reporters.screen import ScreenReporter
from harness.run_meta import build_meta
from harness.single_run import run_single
from platforms import get_platform
from tests.virtualenvs import make_virtualenv

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "onnxruntime": ("tiny_convnet.onnx", "model", [1, 3, 32, 32]),
    "tflite": ("tiny_convnet.tflite", "graph", [1, 16, 16, 3]),
}
SCENARIOS = {
    "single_stream": {"name": "single_stream", "min_duration_s": 0.3, "min_queries": 16},
    "multi_stream": {"name": "multi_stream", "samples_per_query": 4, "latency_bound_ms": 50, "min_duration_s": 0.3},
    "server": {"name": "server", "target_qps": 100, "latency_bound_ms": 50, "min_duration_s": 0.5, "workers": 2},
    "offline": {"name": "offline", "min_duration_s": 0.3, "workers": 2, "max_batch": 4, "batch_timeout_ms": 1},
}
# Far above what a run of a few microseconds costs, so a slower arm is slower in every round.
DELAY_S = 0.004
SLOW_SITECUSTOMIZE = {
    "onnxruntime": """
        import time
        import onnxruntime
        _run = onnxruntime.InferenceSession.run
        def run(self, *args, **kwargs):
            time.sleep({delay})
            return _run(self, *args, **kwargs)
        onnxruntime.InferenceSession.run = run
    """,
}


@pytest.fixture
def host():
    platform = get_platform("host")
    yield platform
    platform.close()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    for filename, _, _ in MODELS.values():
        generate_model(filename, folder / filename)
    return folder


def python_with_sitecustomize(root: Path, code: str) -> Path:
    python = make_virtualenv(root)
    site_packages = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    (site_packages / "sitecustomize.py").write_text(textwrap.dedent(code))
    return python


def slow_python(root: Path, delay_s: float) -> Path:
    """An interpreter of the same packages whose onnxruntime sleeps `delay_s` before every run."""
    return python_with_sitecustomize(root, SLOW_SITECUSTOMIZE["onnxruntime"].replace("{delay}", repr(delay_s)))


def load_spec(framework: str, models: Path, scenario: dict | None, **test_fields):
    filename, role, shape = MODELS[framework]
    document = {
        "model": {
            "name": "tiny_convnet",
            "format": framework,
            "files": {role: {"filename": filename, "location": str(models / filename)}},
        },
        "tests": [
            {
                "identifier": "load",
                "metric": "delay",
                "iter": 1,
                "warmup": 1,
                "inputs": {"input": {"shapes": [shape], "type": "float"}},
                **({"scenario": scenario} if scenario else {}),
                **test_fields,
            }
        ],
    }
    return parse_spec(document, models / f"{framework}_load.json")


def runner_for(framework: str, host, spec, models: Path) -> ArmRunner:
    filename, role, _ = MODELS[framework]
    return ArmRunner(get_framework(framework), host, spec.tests[0], {role: str(models / filename)}, timeout=180)


def single(framework: str, host, spec, models: Path, program: str = sys.executable):
    runner = runner_for(framework, host, spec, models)
    arm = Arm("treatment", program, "new")
    job = Job(specs=(str(spec.path),), arms=Arms(arm, None))
    meta = build_meta(job, spec, spec.tests[0], framework, host.describe().as_dict(), [arm], None)
    return run_single(runner, arm, meta)


def ab(framework: str, host, spec, models: Path, treatment: str, control: str):
    runner = runner_for(framework, host, spec, models)
    arms = Arms(Arm("treatment", treatment, "new"), Arm("control", control, "old"))
    job = Job(specs=(str(spec.path),), arms=arms)
    meta = build_meta(job, spec, spec.tests[0], framework, host.describe().as_dict(), arms.all(), None)
    return run_ab(runner, arms.treatment, arms.control, meta, progress=None)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("framework", sorted(MODELS))
def test_each_scenario_runs_on_the_host_with_loadgens_verdict(host, models, framework, scenario):
    result = single(framework, host, load_spec(framework, models, SCENARIOS[scenario]), models)
    assert result.ok, result.failure
    latency, throughput = result.data["NET latency"], result.data["NET throughput"]
    assert {"p50", "p90", "p95", "p99", "p999", "mean", "p10", "stdev"} <= set(latency.summary)
    assert throughput.values[0] > 0
    assert throughput.unit == ("samples/s" if scenario == "offline" else "queries/s")
    facts = result.meta["scenario"]
    assert facts["name"] == scenario
    assert facts["achieved_qps"] == throughput.values[0]
    assert isinstance(facts["valid"], bool)
    assert facts["valid"] == (facts["invalid_reasons"] == [])
    assert "met" in facts["early_stopping"]
    logs = "\n".join(result.logs.values())
    assert "MLPerf Results Summary" in logs and ":::MLLOG" in logs
    check_record(json.loads(json.dumps(result.to_json())))


def test_a_rate_the_sut_cannot_hold_is_an_invalid_result_with_loadgens_reason(host, models, tmp_path):
    slow = slow_python(tmp_path / "slow", 0.02)
    scenario = {"name": "server", "target_qps": 200, "latency_bound_ms": 10, "min_duration_s": 0.5}
    result = single("onnxruntime", host, load_spec("onnxruntime", models, scenario), models, str(slow))
    assert result.ok, result.failure
    facts = result.meta["scenario"]
    assert facts["valid"] is False
    assert "latency bound not met" in facts["invalid_reasons"]
    assert facts["achieved_qps"] < 200


def test_cold_start_is_reported_per_process_apart_from_warm_latency(host, models):
    result = single("tflite", host, load_spec("tflite", models, None, cold_start=True, iter=5), models)
    assert result.ok, result.failure
    cold = result.data["NET cold_start"]
    assert len(cold.values) == 1 and cold.values[0] > 0
    assert len(result.data["NET latency"].values) == 5


AB_ROUNDS = {"min_rounds": 6, "max_rounds": 6, "regression_threshold": 25}
# An A/A is a false regression by design in up to alpha of runs: at 0.05 over six rounds of tail
# latency that moves by half from one round to the next, about one run in twenty. At 0.001 over
# twelve rounds, where three of the 4096 sign patterns are significant, the claim "an A/A is
# not a regression" no longer rests on luck, and it still can fail: twelve rounds can reach 0.001.
AA_ROUNDS = {"min_rounds": 12, "max_rounds": 12, "regression_threshold": 25, "alpha": 0.001}


@pytest.mark.parametrize(
    ("scenario", "flagged"),
    [
        ({"name": "server", "target_qps": 50, "latency_bound_ms": 100, "min_duration_s": 0.4}, "NET latency"),
        ({"name": "offline", "min_duration_s": 0.3}, "NET throughput"),
    ],
)
def test_a_fixed_delay_per_inference_is_flagged_under_load_and_an_a_a_is_not(host, models, tmp_path, scenario, flagged):
    spec = load_spec("onnxruntime", models, scenario, **AB_ROUNDS)
    slowed = ab("onnxruntime", host, spec, models, str(slow_python(tmp_path / "slow", DELAY_S)), sys.executable)
    assert slowed.ok, slowed.failure
    assert slowed.data[flagged].comparison.verdict is Verdict.REGRESSION
    if flagged == "NET throughput":
        assert slowed.data[flagged].comparison.estimate_pct < -25
    assert len(slowed.meta["scenario"]["rounds"]) == 6
    same_spec = load_spec("onnxruntime", models, scenario, **AA_ROUNDS)
    same = ab("onnxruntime", host, same_spec, models, sys.executable, sys.executable)
    assert same.ok, same.failure
    assert len(same.meta["scenario"]["rounds"]) == 12
    assert same.data[flagged].comparison.verdict is not Verdict.REGRESSION
    check_record(json.loads(json.dumps(slowed.to_json())))


def test_a_bad_scenario_field_is_one_line_and_exit_2(tmp_path):
    spec = tmp_path / "bad.json"
    test = {"identifier": "t", "metric": "delay", "iter": 1, "scenario": {"name": "server", "target_qps": -1}}
    spec.write_text(json.dumps({"model": {"name": "m", "format": "onnxruntime", "files": {}}, "tests": [test]}))
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-b", str(spec)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.json: tests[0].scenario.target_qps: expected queries per second > 0" in lines[0]


def test_an_arm_invalid_in_its_rounds_is_named_and_cannot_read_as_no_change(host, models, tmp_path):
    scenario = {"name": "server", "target_qps": 100, "latency_bound_ms": 5, "min_duration_s": 0.3}
    spec = load_spec("onnxruntime", models, scenario, **AB_ROUNDS)
    result = ab("onnxruntime", host, spec, models, str(slow_python(tmp_path / "slow", 0.02)), sys.executable)
    assert result.ok, result.failure
    facts = result.meta["scenario"]
    assert facts["valid"] is False and "latency bound not met" in facts["invalid_reasons"]
    assert [r["treatment"]["valid"] for r in facts["rounds"]] == [False] * 6
    latency = result.data["NET latency"].comparison
    assert latency.verdict is Verdict.REGRESSION
    assert "treatment INVALID in 6 of 6 rounds" in latency.note
    for key in ("NET latency", "NET throughput"):
        assert result.data[key].comparison.verdict is not Verdict.NO_CHANGE
    console = Console(record=True, width=200)
    ScreenReporter(console).report(result)
    screen = console.export_text()
    assert "load: server at 100 target" in screen
    assert "INVALID in 6 of 6: " in screen and "p99.9 us" in screen


def test_an_interpreter_without_loadgen_is_a_failed_result_that_says_so(host, models, tmp_path):
    python = python_with_sitecustomize(tmp_path / "bare", "import sys\nsys.modules['mlperf_loadgen'] = None\n")
    result = single("tflite", host, load_spec("tflite", models, SCENARIOS["single_stream"]), models, str(python))
    assert not result.ok
    assert "cannot import mlperf_loadgen; install mlcommons-loadgen into it" in result.failure


def test_a_slower_start_is_flagged_on_cold_start_and_an_a_a_is_not(host, models, tmp_path):
    slow_start = python_with_sitecustomize(tmp_path / "slow_start", "import time\ntime.sleep(0.3)\n")
    spec = load_spec("tflite", models, None, cold_start=True, iter=3, **AB_ROUNDS)
    slowed = ab("tflite", host, spec, models, str(slow_start), sys.executable)
    assert slowed.ok, slowed.failure
    assert slowed.data["NET cold_start"].comparison.verdict is Verdict.REGRESSION
    same_spec = load_spec("tflite", models, None, cold_start=True, iter=3, **AA_ROUNDS)
    same = ab("tflite", host, same_spec, models, sys.executable, sys.executable)
    assert same.data["NET cold_start"].comparison.verdict is not Verdict.REGRESSION
