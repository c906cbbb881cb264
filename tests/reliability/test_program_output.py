"""Issue 19, hostile program output: nothing a benchmark program prints may lose the results.

Every test runs a real program (a Python -c script) through the real harness and reads
back what the SQLite store kept.
"""

import json
import sys
from pathlib import Path

from harness.cli import main
from harness.store.result_store import ResultStore


def harness(tmp_path: Path, *args: str) -> int:
    return main(["--db", str(tmp_path / "aipep.db"), "--model_cache", str(tmp_path / "models"), *args])


def write_spec(tmp_path: Path, code: str, iterations: int = 5) -> Path:
    """A generic test running `code` as a script under `{program}`, with the iteration count as its argument."""
    script = tmp_path / "program.py"
    script.write_text(code)
    spec = tmp_path / "spec.json"
    test = {"identifier": "t", "metric": "delay", "iter": iterations, "commands": [f"{{program}} {script} {{iter}}"]}
    spec.write_text(json.dumps({"model": {"name": "scripted", "format": "generic"}, "tests": [test]}))
    return spec


def info(ab: bool) -> str:
    document = {"treatment": {"program": sys.executable, "commit": "new", "commit_time": 2}}
    if ab:
        document["control"] = {"program": sys.executable, "commit": "old", "commit_time": 1}
    return json.dumps(document)


def stored_runs(tmp_path: Path):
    with ResultStore(tmp_path / "aipep.db") as store:
        return store.find_runs(model="scripted", include_logs=True)


# A program whose Reshape is below the timer's resolution in every other iteration, as real
# profilers print it; NET and Conv are ordinary positive timings.
ZERO_RESHAPE = """
import json, random, sys
for i in range(int(sys.argv[1])):
    for name, value in (("NET", 1000 + random.random()), ("Conv", 600 + random.random()), ("Reshape", i % 2)):
        print("AIPEP", json.dumps({"type": name, "metric": "latency", "unit": "us", "value": float(value)}))
"""


def test_an_operator_timed_at_zero_is_inconclusive_and_the_ab_result_is_stored(tmp_path, capsys):
    spec = write_spec(tmp_path, ZERO_RESHAPE)
    status = harness(tmp_path, "-b", str(spec), "--info", info(ab=True), "--min_rounds", "6", "--max_rounds", "6")
    assert status == 0, capsys.readouterr().err
    (stored,) = stored_runs(tmp_path)
    assert stored.ok
    reshape = stored.data["Reshape latency"].comparison
    assert reshape["verdict"] == "inconclusive"
    assert reshape["estimate_pct"] is None and reshape["p_value"] is None
    assert "below the timer's resolution" in reshape["note"]
    for key in ("NET latency", "Conv latency"):
        comparison = stored.data[key].comparison
        assert comparison["estimate_pct"] is not None and comparison["rounds"] == 6, key
        assert "note" not in comparison


BAD_VALUES = """
import sys
print('AIPEP {"type": "NET", "metric": "latency", "unit": "us", "values": [10, 11, 12]}')
print('AIPEP {"type": "Reshape", "metric": "latency", "unit": "us", "values": [0.0, 0.0]}')
print('AIPEP {"type": "Clock", "metric": "skew", "unit": "us", "value": -3.5}')
print('AIPEP {"type": "Conv", "metric": "latency", "unit": "us", "values": [NaN, 5, Infinity, 6]}')
print('AIPEP {"type": "Relu", "metric": "latency", "unit": "us", "value": 1e999}')
print('AIPEP {"type": "Pool", "metric": "latency", "unit": "us", "value": ')
print('AIPEP {"type": "NET", "metric": "latency", "unit": "us", "value": 13}')
"""


def test_a_single_run_keeps_zeros_negatives_and_every_good_value_next_to_bad_ones(tmp_path, capsys):
    spec = write_spec(tmp_path, BAD_VALUES)
    status = harness(tmp_path, "-b", str(spec), "--info", info(ab=False))
    assert status == 0, capsys.readouterr().err
    (stored,) = stored_runs(tmp_path)
    assert stored.ok
    assert stored.data["NET latency"].values == [10.0, 11.0, 12.0, 13.0]
    assert stored.data["Reshape latency"].values == [0.0, 0.0]
    assert stored.data["Clock skew"].values == [-3.5]
    assert stored.data["Conv latency"].values == [5.0, 6.0]
    assert "Relu latency" not in stored.data
    problems = stored.meta["output_problems"]
    assert any("output line 4" in problem and "Conv latency" in problem for problem in problems)
    assert any("output line 5" in problem and "Relu latency" in problem for problem in problems)
    assert any("output line 6" in problem and "not valid JSON" in problem for problem in problems)
