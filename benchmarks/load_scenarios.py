"""What the load mode costs: LoadGen and the worker pool against a bare loop of session.run.

Prints, in one run:
- offline throughput through aipep (harness, bench program, LoadGen, pool) against a bare loop
  of `session.run` with the same worker count, and their ratio (goal >= 0.97), on MobileNetV1;
- the server scenario's achieved QPS, LoadGen's p99 and validity at 50%, 80% and 95% of the
  measured maximum (the offline rate with one sample per batch);
- the per-query cost of the in-process SUT: 1/rate through aipep minus 1/rate of the bare loop,
  one worker, on the tiny convnet (tens of microseconds a run, so the SUT's share shows).

    python benchmarks/load_scenarios.py [--workers 2] [--seconds 3] [--repeats 3]

Throughputs are medians of `repeats` runs, aipep and the bare loop interleaved, so background
load hits both alike.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import onnxruntime as ort  # noqa: E402

from aipep_core.job import Arm, Arms, Job  # noqa: E402
from aipep_core.spec import parse_spec  # noqa: E402
from benchmarks.bare_baseline import back_to_back_rate, interleaved  # noqa: E402
from frameworks import get_framework  # noqa: E402
from frameworks.onnxruntime import bench_program  # noqa: E402
from harness.arm import ArmRunner  # noqa: E402
from harness.generated_models.registry import generate_model  # noqa: E402
from harness.run_meta import build_meta  # noqa: E402
from harness.single_run import run_single  # noqa: E402
from platforms import get_platform  # noqa: E402

MODELS = {"mobilenet_v1": "mobilenet_v1_1.0_224.onnx", "tiny_convnet": "tiny_convnet.onnx"}
SHAPES = {"mobilenet_v1": [1, 3, 224, 224], "tiny_convnet": [1, 3, 32, 32]}


def spec_for(model: str, folder: Path, scenario: dict):
    document = {
        "model": {
            "name": model,
            "format": "onnxruntime",
            "files": {"model": {"filename": MODELS[model], "location": str(folder / MODELS[model])}},
        },
        "tests": [
            {
                "identifier": f"{model}_{scenario['name']}",
                "metric": "delay",
                "iter": 1,
                "warmup": 2,
                "threads": 1,
                "inputs": {"input": {"shapes": [SHAPES[model]], "type": "float"}},
                "scenario": scenario,
            }
        ],
    }
    return parse_spec(document, folder / "load.json")


def through_aipep(host, model: str, folder: Path, scenario: dict) -> dict:
    spec = spec_for(model, folder, scenario)
    runner = ArmRunner(get_framework("onnxruntime"), host, spec.tests[0], {"model": str(folder / MODELS[model])})
    arm = Arm("treatment", sys.executable, "now")
    job = Job(specs=(str(spec.path),), arms=Arms(arm, None))
    meta = build_meta(job, spec, spec.tests[0], "onnxruntime", host.describe().as_dict(), [arm], None)
    result = run_single(runner, arm, meta)
    if not result.ok:
        raise SystemExit(f"load_scenarios: the aipep run failed: {result.failure}")
    return result.meta["scenario"] | {
        "p99_us": result.meta["scenario"]["rounds"][0]["treatment"]["loadgen_latency_us"].get("p99")
    }


def bare_loop(model_path: Path, workers: int, seconds: float) -> float:
    """Runs a second of `workers` threads, each with its own session, calling run as fast as it can."""
    options = bench_program.session_options(ort, 1, "all")
    sessions = [
        ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"]) for _ in range(workers)
    ]
    feeds = bench_program.make_inputs(sessions[0], [])
    for session in sessions:
        session.run(None, feeds)
    return back_to_back_rate([functools.partial(session.run, None, feeds) for session in sessions], seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aipep-load-bench-"))
    for filename in MODELS.values():
        generate_model(filename, folder / filename)
    host = get_platform("host")
    print(f"load before: {os.getloadavg()}")
    offline = {"name": "offline", "min_duration_s": args.seconds, "min_queries": 1, "workers": args.workers}
    aipep_rate, bare_rate = interleaved(
        lambda: through_aipep(host, "mobilenet_v1", folder, offline)["achieved_qps"],
        lambda: bare_loop(folder / MODELS["mobilenet_v1"], args.workers, args.seconds),
        args.repeats,
    )
    print(
        f"offline MobileNetV1, {args.workers} workers: aipep {aipep_rate:.1f} samples/s, bare loop {bare_rate:.1f}/s, "
        f"ratio {aipep_rate / bare_rate:.3f} (goal >= 0.97)"
    )
    for share in (0.5, 0.8, 0.95):
        target = round(share * aipep_rate, 2)
        server = {
            "name": "server",
            "target_qps": target,
            "latency_bound_ms": 1000,
            "min_duration_s": args.seconds,
            "min_queries": 8,
            "workers": args.workers,
        }
        facts = through_aipep(host, "mobilenet_v1", folder, server)
        print(
            f"server MobileNetV1 at {share:.0%} of max ({target} qps): achieved {facts['achieved_qps']:.1f} qps, "
            f"LoadGen p99 {facts['p99_us'] / 1000:.1f} ms, {'VALID' if facts['valid'] else 'INVALID'}"
            + ("" if facts["valid"] else f" ({'; '.join(facts['invalid_reasons'])[:100]})")
        )
    single = {"name": "offline", "min_duration_s": args.seconds, "min_queries": 1, "workers": 1}
    tiny_aipep, tiny_bare = interleaved(
        lambda: through_aipep(host, "tiny_convnet", folder, single)["achieved_qps"],
        lambda: bare_loop(folder / MODELS["tiny_convnet"], 1, args.seconds),
        args.repeats,
    )
    print(
        f"in-process SUT cost per query (tiny convnet, 1 worker): {1e6 / tiny_aipep - 1e6 / tiny_bare:.1f} us "
        f"(aipep {tiny_aipep:.0f}/s, bare loop {tiny_bare:.0f}/s)"
    )
    print(f"load after: {os.getloadavg()}")
    host.close()


if __name__ == "__main__":
    main()
