"""CPU time to render the report of an A/B result with 60 operators (the goal: under 2 s).

A report is written when each run finishes and when the server is asked for one, so it
must stay cheap as a network grows. This script makes a real A/B result first: the
harness runs a generated Python program printing 60 operators (three of them 30%
slower in the treatment) against its control, into a SQLite store in a temporary folder.
Then it renders that stored result, timing CPU seconds (time.process_time):

- html: record -> one HTML file (the first render also reads plotly.js; later ones reuse it);
- md: record -> report.md and its PNG figures (matplotlib).

    python benchmarks/report_speed.py [--operators 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.cli import main as harness_main
from harness.store.result_store import ResultStore
from reports.html_report import render_html
from reports.markdown_report import write_markdown
from reports.single_result import result_report

PROGRAM = """
import json, os, random
noise = random.Random(os.getpid())
slow, operators = {slow}, {operators}
parts = {{}}
for number in range(operators):
    base = (10.0 + number % 7) * (slow if number < 3 else 1.0)
    parts[f"Op{{number:02d}}"] = [base * (1 + noise.uniform(-0.01, 0.01)) for _ in range(5)]
for name, values in parts.items():
    print("AIPEP " + json.dumps({{"type": name, "metric": "latency", "unit": "us", "values": values, "op_type": "Op"}}))
net = [sum(values) for values in zip(*parts.values())]
print("AIPEP " + json.dumps({{"type": "NET", "metric": "latency", "unit": "us", "values": net}}))
"""


def stored_ab_result(directory: Path, operators: int) -> Path:
    programs = {}
    for arm, slow in (("treatment", 1.3), ("control", 1.0)):
        path = directory / f"{arm}.py"
        path.write_text(f"#!{sys.executable}\n" + PROGRAM.format(slow=slow, operators=operators))
        path.chmod(0o755)
        programs[arm] = {"program": str(path), "commit": arm}
    test = {"identifier": "t", "metric": "delay", "iter": 5, "commands": ["{program}"], "min_rounds": 6}
    spec = directory / "spec.json"
    spec.write_text(
        json.dumps({"model": {"name": "sixty", "format": "generic"}, "tests": [{**test, "max_rounds": 10}]})
    )
    db = directory / "aipep.db"
    argv = ["-b", str(spec), "--db", str(db), "--info", json.dumps(programs), "--simple_local_reporter", str(directory)]
    status = harness_main([*argv, "--model_cache", str(directory / "models")])
    if status != 0:
        raise SystemExit(f"the harness run failed with status {status}")
    return db


def cpu_seconds(render) -> float:
    started = time.process_time()
    render()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operators", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        with ResultStore(stored_ab_result(directory, args.operators)) as store:
            (result,) = store.find_runs()
            result = store.load_run(result.id, include_logs=False)
        html = [cpu_seconds(lambda: render_html(result_report(result))) for _ in range(args.repeats)]
        markdown = [
            cpu_seconds(lambda n=n: write_markdown(result_report(result), directory / f"md{n}"))
            for n in range(args.repeats)
        ]
    print(f"A/B report of {len(result.data)} metrics ({args.operators} operators and NET), CPU seconds:")
    print(f"  html: first {html[0]:.3f}, median {statistics.median(html):.3f} (goal < 2 s)")
    print(f"  md:   first {markdown[0]:.3f}, median {statistics.median(markdown):.3f}")


if __name__ == "__main__":
    main()
