"""Stand-in for a program benchmarked by a FAI-PEP `generic` test: it reports metrics of its
own choosing (names, types and units no framework knows) as PyTorchObserver lines.

`--runs N` lines of each metric; `--rate R` sets the throughput it reports (tokens per second,
more is better, so a treatment with a higher rate is faster, not a regression).
"""

import argparse
import json


def observer(kind, metric, unit, value):
    print("PyTorchObserver " + json.dumps({"type": kind, "metric": metric, "unit": unit, "value": value}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    for run in range(args.runs):
        observer("DECODER", "tokens_per_second", "tokens/s", args.rate + run % 2)
        observer("MEMORY", "peak_kv_cache", "MB", 64.0)


main()
