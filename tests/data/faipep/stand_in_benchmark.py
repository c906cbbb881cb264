"""Stand-in for the benchmark binaries FAI-PEP specs run (caffe2's speed_benchmark, pytorch's
benchmark, a classifier writing labels), for the compatibility test: it measures a small loop.

Flags are read the way those binaries take them (`--name value` or `--name=value`); any flag is
accepted, so a spec's extra arguments (such as `--backend mkl`) pass. Files named by `--net`,
`--init_net`, `--model`, `--input_file` or `--check_input` must exist. `--output_file` writes one
label per input line; `--score PRED --golden GOLD` prints one accuracy line per sample;
`--work N` sets the size of the measured loop.
"""

import json
import sys
import time
from pathlib import Path

FILE_FLAGS = ("net", "init_net", "model", "input_file", "check_input", "golden", "score")


def flags(argv):
    parsed = {}
    position = 0
    while position < len(argv):
        token = argv[position]
        if not token.startswith("--"):
            sys.exit(f"stand-in: unexpected argument {token!r} (was the program given twice?)")
        name, _, value = token[2:].partition("=")
        if not value and position + 1 < len(argv) and not argv[position + 1].startswith("--"):
            position += 1
            value = argv[position]
        parsed[name] = value
        position += 1
    return parsed


def observer(metric, unit, value):
    print("Caffe2Observer " + json.dumps({"type": "NET", "metric": metric, "unit": unit, "value": value}))


def main():
    given = flags(sys.argv[1:])
    for name in FILE_FLAGS:
        if name in given and not Path(given[name]).is_file():
            sys.exit(f"stand-in: --{name} {given[name]}: no such file")
    if "score" in given:
        predicted = Path(given["score"]).read_text().split()
        golden = Path(given["golden"]).read_text().split()
        for guess, truth in zip(predicted, golden, strict=True):
            observer("top1_accuracy", "percent", 100.0 if guess == truth else 0.0)
        return
    if "check_input" in given:
        print("input ok")
        return
    if "output_file" in given:
        labels = Path(given["input_file"]).read_text().split()
        wrong = int(given.get("wrong", "0"))
        Path(given["output_file"]).write_text("\n".join(["x"] * wrong + labels[wrong:]) + "\n")
    work = int(given.get("work", "20000"))
    for _ in range(int(given.get("iter", "1"))):
        started = time.perf_counter()
        sum(range(work))
        observer("latency", "ms", (time.perf_counter() - started) * 1e3)


main()
