"""What a model variant buys and costs: fp32 against dynamic int8 and float16, latency and quality together.

For the digits classifier (trained, labelled: NET accuracy with McNemar's verdict) and for
MobileNetV1 (random weights, no labels: the output difference against the fp32 arm), each
variant runs as the treatment of an interleaved A/B against fp32 on this host's
onnxruntime, exactly as a user runs it (`harness --info` with the arm's optimizers). It
prints the NET latency change with its 95% interval and verdict, the quality change and
the model sizes, with the load average, since the machine may be shared.

    python benchmarks/variants.py [--min_rounds 8 --max_rounds 12]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.cli import main as harness  # noqa: E402

MODELS = REPO / "specifications" / "models" / "onnxruntime"
SPECS = {
    "digits_mlp": MODELS / "digits_mlp" / "digits_mlp.json",
    "mobilenet_v1": MODELS / "mobilenet_v1" / "mobilenet_v1.json",
}
VARIANTS = {
    "int8 (dynamic)": [{"type": "onnx_quantize", "mode": "dynamic", "weight_type": "int8"}],
    "float16": [{"type": "onnx_float16"}],
}
# Iterations per process: enough for a stable minimum, few enough that MobileNetV1 stays quick.
ITERATIONS = {"digits_mlp": 100, "mobilenet_v1": 10}


def run_variant(model: str, optimizers: list[dict], rounds: tuple[int, int], work: Path) -> dict:
    document = json.loads(SPECS[model].read_text())
    test = document["tests"][0]
    test.update(iter=ITERATIONS[model], warmup=3, operators=False, min_rounds=rounds[0], max_rounds=rounds[1])
    spec = work / f"{model}.json"
    spec.write_text(json.dumps(document))
    out = work / f"out-{model}-{len(list(work.glob('out-*')))}"
    status = harness(
        [
            "-b", str(spec),
            "--info", json.dumps({"treatment": {"optimizers": optimizers}, "control": {}}),
            "--model_cache", str(work / "models"),
            "--simple_local_reporter", str(out),
            "--no_db",
        ]
    )  # fmt: skip
    if status != 0:
        raise SystemExit(f"variants: {model} with {optimizers} failed (exit {status})")
    (path,) = out.rglob("*.json")
    return json.loads(path.read_text())


def quality_line(result: dict) -> str:
    data = result["data"]
    if "NET accuracy" in data:
        accuracy = data["NET accuracy"]
        comparison = accuracy["comparison"]
        return (
            f"accuracy {accuracy['control_values'][0]:.2f}% -> {accuracy['values'][0]:.2f}% "
            f"({comparison['estimate_pct']:+.2f} points [{comparison['ci_low_pct']:+.2f}, "
            f"{comparison['ci_high_pct']:+.2f}], McNemar p={comparison['p_value']:.3g}, {comparison['verdict']})"
        )
    largest = next(metric for key, metric in data.items() if key.endswith(" max_abs_diff"))
    mean = next(metric for key, metric in data.items() if key.endswith(" mean_abs_diff"))
    return (
        f"output vs fp32: max abs diff {largest['values'][0]:.3g}, mean abs diff {mean['values'][0]:.3g} "
        f"({largest['comparison']['verdict']} at error_tolerance {largest['comparison']['tolerance']:g})"
    )


def latency_line(result: dict) -> str:
    net = result["data"]["NET latency"]
    comparison = net["comparison"]
    return (
        f"NET latency p50 {net['control_summary']['p50']:.1f} -> {net['summary']['p50']:.1f} us, change "
        f"{comparison['estimate_pct']:+.1f}% [{comparison['ci_low_pct']:+.1f}, {comparison['ci_high_pct']:+.1f}] "
        f"over {comparison['rounds']} rounds ({comparison['verdict']})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min_rounds", type=int, default=8)
    parser.add_argument("--max_rounds", type=int, default=12)
    parser.add_argument("--models", default=",".join(SPECS), help="comma list of " + ", ".join(SPECS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aipep-variants-") as scratch:
        for model in args.models.split(","):
            for name, optimizers in VARIANTS.items():
                print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
                result = run_variant(model, optimizers, (args.min_rounds, args.max_rounds), Path(scratch))
                sizes = result["meta"]["variants"]
                print(
                    f"{model} fp32 -> {name}: size {sizes['control']['size_bytes'] / 1024:.1f} KiB -> "
                    f"{sizes['treatment']['size_bytes'] / 1024:.1f} KiB",
                    flush=True,
                )
                print(f"  {latency_line(result)}", flush=True)
                print(f"  {quality_line(result)}", flush=True)
                print(f"  load average after: {', '.join(f'{load:.2f}' for load in os.getloadavg())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
