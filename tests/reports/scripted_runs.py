"""Real harness runs of small Python programs printing observer lines, stored in SQLite for the report tests.

The treatment's Conv is 30% slower than the control's, the other operators are the same
up to a little seeded noise, so an A/B run finds one regressed operator (and NET) every
time; one round is judged disturbed once, so the result records a re-run round.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

from aipep_core.resource_metrics import DEFAULT_RESOURCE_THRESHOLDS_PCT
from harness import ab_run
from harness.cli import main as harness_main
from harness.store.result_store import ResultStore

# The harness samples a process's memory and threads while it runs (platforms/resource_sampler.py),
# first after 5 ms; a program gone before the sampler's thread is scheduled leaves those metrics
# unread in that round, and the report then shows them as not judged. The programs stay alive for
# SAMPLED_S, far longer than a busy machine delays that thread, so every round has them.
SAMPLED_S = 0.2
PROGRAM = textwrap.dedent(
    """
    import json, os, random, time
    conv, operators, seed = {conv}, {operators}, os.getpid()
    noise = random.Random(seed)
    def values(base):
        return [round(base * (1 + noise.uniform(-0.01, 0.01)), 3) for _ in range(5)]
    parts = {{"Conv": values(conv)}}
    for number in range(operators):
        parts[f"Op{{number:02d}}"] = values(10.0 + number)
    net = [round(sum(samples), 3) for samples in zip(*parts.values())]
    for name, samples in parts.items():
        kind = name.rstrip("0123456789")
        line = {{"type": name, "metric": "latency", "unit": "us", "values": samples, "op_type": kind}}
        print("AIPEP " + json.dumps(line))
    print("AIPEP " + json.dumps({{"type": "NET", "metric": "latency", "unit": "us", "values": net}}))
    time.sleep({sampled_s})
    """
)


def write_program(directory: Path, name: str, conv_us: float, operators: int) -> Path:
    """An executable script run as the arm's program (its first line names this interpreter)."""
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + PROGRAM.format(conv=conv_us, operators=operators, sampled_s=SAMPLED_S))
    path.chmod(0o755)
    return path


def write_spec(directory: Path, model: str = "scripted", rounds: tuple[int, int] = (6, 10)) -> Path:
    test = {"identifier": "scripted_test", "metric": "delay", "iter": 5, "commands": ["{program}"]}
    test.update(min_rounds=rounds[0], max_rounds=rounds[1])
    # The scripted programs differ only in what they print; their resource use differs by chance
    # alone (a few context switches more or less), which no report test is about: thresholds no
    # estimate can pass keep a chance resource "regression" out of the figures these tests check.
    test["resource_thresholds"] = dict.fromkeys(DEFAULT_RESOURCE_THRESHOLDS_PCT, 1e9)
    spec = directory / f"{model}.json"
    spec.write_text(json.dumps({"model": {"name": model, "format": "generic"}, "tests": [test]}))
    return spec


def disturbed_once():
    """The disturbance judgement for the third round judged: disturbed once, so it is re-run; no others."""
    judged = []

    def is_disturbed(share, history) -> bool:
        judged.append(share)
        return len(judged) == 3

    return is_disturbed


def run_harness(
    db: Path, spec: Path, treatment: Path, control: Path | None, commit: str, *extra: str, commit_time: int = 1
) -> int:
    info = {"treatment": {"program": str(treatment), "commit": commit, "commit_time": commit_time}}
    if control is not None:
        info["control"] = {"program": str(control), "commit": f"{commit}-base", "commit_time": 0}
    argv = ["-b", str(spec), "--db", str(db), "--info", json.dumps(info), "--simple_local_reporter", str(db.parent)]
    return harness_main([*argv, "--model_cache", str(db.parent / "models"), *extra])


def ab_result_id(tmp_path: Path, monkeypatch, operators: int = 4) -> tuple[Path, str]:
    """A stored A/B result of the scripted programs, Conv regressed, one round re-run: (db, result id)."""
    monkeypatch.setattr(ab_run, "is_disturbed", disturbed_once())
    slow = write_program(tmp_path, "slow.py", 130.0, operators)
    fast = write_program(tmp_path, "fast.py", 100.0, operators)
    db = tmp_path / "aipep.db"
    assert run_harness(db, write_spec(tmp_path), slow, fast, "c0ffee") == 0
    with ResultStore(db) as store:
        (result,) = store.find_runs()
    return db, result.id
