"""Resource use of real benchmark processes, and its verdicts in an A/B run."""

import sys

import pytest

from aipep_core.errors import UserError
from aipep_core.job import Arm
from aipep_core.spec import parse_spec
from aipep_core.verdict import Verdict
from frameworks import get_framework
from harness.ab_run import run_ab
from harness.arm import ArmRunner
from harness.resource_comparison import compare_resources
from harness.stats.comparison import compare_metric
from platforms import get_platform
from platforms.host import run_process

# Allocates (and touches) MEGABYTES, then reports a fixed latency: only memory differs between arms. It holds
# the memory a moment, as a program running its iterations does: memory taken in the sampler's last interval
# before an exit can be missed (platforms/resource_sampler.py).
ALLOCATING_PROGRAM = """#!{python}
import json, time
held = b"\\x01" * ({megabytes} * 1024 * 1024)
time.sleep(0.3)
print("AIPEP " + json.dumps({{"type": "NET", "metric": "latency", "unit": "us", "values": [100.0, 101.0, 99.0]}}))
"""


def allocating_program(tmp_path, megabytes):
    script = tmp_path / f"allocate_{megabytes}mb.py"
    script.write_text(ALLOCATING_PROGRAM.format(python=sys.executable, megabytes=megabytes))
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def host():
    platform = get_platform("host")
    yield platform
    platform.close()


def allocating_test(tmp_path, **extra):
    test = {"identifier": "t", "metric": "delay", "iter": 3, "min_rounds": 8, "max_rounds": 8, **extra}
    document = {"model": {"name": "alloc", "format": "generic"}, "tests": [{**test, "commands": ["{program}"]}]}
    return parse_spec(document, tmp_path / "spec.json").tests[0]


def test_host_process_reports_its_peak_memory_cpu_and_io(tmp_path):
    target = tmp_path / "written.bin"
    code = (
        "import time; held = b'\\x01' * (120 * 1024 * 1024)"
        f"; open({str(target)!r}, 'wb').write(held[: 8 * 1024 * 1024]); time.sleep(0.3)"
    )
    result = run_process([sys.executable, "-c", code], timeout=60)
    metrics = result.usage.metrics()
    assert result.ok
    assert metrics["peak_rss"] >= 120
    assert metrics["cpu_time"] > 0
    assert metrics["cpu_util"] > 0
    assert metrics["ctx_switches"] >= 0
    assert metrics["write_bytes"] >= 8 * 1024 * 1024
    assert metrics["threads"] >= 1


def test_sampling_off_still_gives_the_final_accounting():
    result = run_process([sys.executable, "-c", "held = b'x' * (40 * 1024 * 1024)"], timeout=60, sample_resources=False)
    assert result.usage.cpu_seconds > 0 and result.usage.voluntary_switches is not None
    assert result.usage.peak_rss_bytes is None and result.usage.threads is None


def test_peak_memory_is_the_program_s_own_not_the_harness_s_it_was_forked_from():
    """A forked child starts with the parent's resident memory; rusage's ru_maxrss would report that."""
    ballast = b"\x01" * (300 * 1024 * 1024)
    result = run_process(["sleep", "0.3"], timeout=60)
    assert len(ballast) and result.ok
    assert result.usage.metrics()["peak_rss"] < 50


def run_allocating_ab(host, tmp_path, treatment_mb, control_mb, **extra):
    runner = ArmRunner(get_framework("generic"), host, allocating_test(tmp_path, **extra), {}, timeout=60)
    treatment = Arm("treatment", allocating_program(tmp_path, treatment_mb), "new")
    control = Arm("control", allocating_program(tmp_path, control_mb), "old")
    return run_ab(runner, treatment, control, {}, progress=None)


def test_more_memory_in_the_treatment_is_a_peak_rss_regression_while_latency_is_unchanged(host, tmp_path):
    result = run_allocating_ab(host, tmp_path, treatment_mb=150, control_mb=10)
    assert result.ok
    memory = result.data["PROCESS peak_rss"]
    assert memory.unit == "MB"
    assert len(memory.round_values) == len(memory.control_round_values) == 8
    assert memory.comparison.verdict == "regression"
    assert memory.comparison.estimate_pct > 100
    assert result.data["NET latency"].comparison.verdict in ("no_change", "inconclusive")
    assert {"PROCESS cpu_time", "PROCESS cpu_util", "PROCESS ctx_switches"} <= set(result.data)


def test_a_resource_threshold_from_the_spec_decides_the_verdict(host, tmp_path):
    result = run_allocating_ab(host, tmp_path, treatment_mb=150, control_mb=10, resource_thresholds={"peak_rss": 10000})
    assert result.data["PROCESS peak_rss"].comparison.verdict != "regression"


def test_an_unknown_resource_threshold_is_refused_naming_the_field(tmp_path):
    with pytest.raises(UserError, match=r"tests\[0\]\.resource_thresholds"):
        allocating_test(tmp_path, resource_thresholds={"peak_memory": 5})


def test_a_count_of_zero_in_every_round_of_both_arms_is_no_change_and_some_zeros_are_inconclusive():
    family = {"PROCESS read_bytes": ([0.0] * 8, [0.0] * 8), "PROCESS write_bytes": ([0.0, 4096.0] * 4, [4096.0] * 8)}
    decided = compare_resources(family, thresholds_pct=dict.fromkeys(family, 10.0), alpha=0.05)
    nothing, some = decided["PROCESS read_bytes"], decided["PROCESS write_bytes"]
    assert (nothing.verdict, nothing.note) == ("no_change", "0 in every round of both arms")
    assert some.verdict == "inconclusive" and not some.measured
    assert some.note == "no ratio can be formed: 0 in 4 treatment and 0 control round(s) of 8"


def test_the_resource_metrics_are_one_family_adjusted_together():
    """Significant alone (p about 0.02), one of five resource metrics is no longer a regression in its family."""
    control = [100.0] * 8
    higher = [120.0, 118.0, 125.0, 119.0, 95.0, 122.0, 98.0, 121.0]
    alone = compare_metric(higher, control, threshold_pct=10, alpha=0.05)
    assert alone.verdict is Verdict.REGRESSION
    family = {"PROCESS cpu_util": (higher, control)}
    for index in range(4):
        family[f"PROCESS other_{index}"] = (
            [100.0 + (step * 7 + index) % 5 - 2 for step in range(8)],
            [100.0 + (step * 3 + index) % 5 - 2 for step in range(8)],
        )
    decided = compare_resources(family, thresholds_pct=dict.fromkeys(family, 10.0), alpha=0.05)
    assert decided["PROCESS cpu_util"].q_value > 0.05
    assert decided["PROCESS cpu_util"].verdict is Verdict.INCONCLUSIVE
    # A clear change stays a regression in the family.
    family["PROCESS cpu_util"] = ([130.0 + step for step in range(8)], control)
    decided = compare_resources(family, thresholds_pct=dict.fromkeys(family, 10.0), alpha=0.05)
    assert decided["PROCESS cpu_util"].verdict is Verdict.REGRESSION
