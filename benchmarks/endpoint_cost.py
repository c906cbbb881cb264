"""What a query costs through the v2 endpoint client, against the same model run in-process.

A serving endpoint's latency holds more than the model: the client encodes the request, HTTP
carries it, the server decodes it, runs the model and answers, the client decodes the answer.
Whoever compares two endpoints with aipep should know how much of a figure that is. For each
generated model (served by a real MLServer on loopback with the tests' onnxruntime runtime,
one intra-op thread on both sides), this prints:

* bare p50: one `session.run` in this process, as the onnxruntime program times it;
* endpoint p50: one `RequestPath.infer` (what the v2_endpoint program times as NET latency);
* added: endpoint minus bare, the whole price of serving per query (client, HTTP, server);
* client CPU: the CPU time this process spent per query in the client library (encoding,
  HTTP, decoding), the part of the price that is the client's and not the server's.

Under load (`--load_seconds`, 0 to skip), per worker count: the offline scenario through aipep
(harness, the v2 bench program, LoadGen, one client per worker) against a bare pool of as many
threads, each calling its own `RequestPath.infer` as fast as the server answers, both in
samples/s, and what a query costs each (1 / rate, in microseconds) with the difference: the
price of LoadGen and the pool on top of the client, per query at full load.

Bare and endpoint alternate (ABBA) over the repeats; the table shows medians of the repeats'
medians (under load: medians of interleaved repeats). The machine's load average is printed
with the figures: the numbers are only as quiet as the machine.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import onnxruntime as ort  # noqa: E402

from aipep_core.job import Arm, Arms, Job  # noqa: E402
from aipep_core.spec import parse_spec  # noqa: E402
from benchmarks.bare_baseline import back_to_back_rate, interleaved  # noqa: E402
from frameworks import get_framework  # noqa: E402
from frameworks.onnxruntime import bench_program as onnxruntime_program  # noqa: E402
from frameworks.v2_endpoint import bench_program as endpoint_program  # noqa: E402
from harness.arm import ArmRunner  # noqa: E402
from harness.generated_models import generate_model  # noqa: E402
from harness.run_meta import build_meta  # noqa: E402
from harness.single_run import run_single  # noqa: E402
from platforms import get_platform  # noqa: E402
from tests.mlserver_fixture import ServedModel, start_mlserver  # noqa: E402

MODELS = {"tiny_convnet": "tiny_convnet.onnx", "mobilenet_v1": "mobilenet_v1_1.0_224.onnx"}
WARMUP = 5


@dataclass
class Figures:
    """Per repeat: median latency of each side and the client's CPU time per query, in microseconds."""

    bare_us: list[float] = field(default_factory=list)
    endpoint_us: list[float] = field(default_factory=list)
    client_cpu_us: list[float] = field(default_factory=list)


def bare_median_us(session, feeds: dict, queries: int) -> float:
    for _ in range(WARMUP):
        session.run(None, feeds)
    latencies = []
    for _ in range(queries):
        start = time.perf_counter_ns()
        session.run(None, feeds)
        latencies.append((time.perf_counter_ns() - start) / 1000.0)
    return statistics.median(latencies)


def endpoint_median_us(path: endpoint_program.RequestPath, queries: int) -> tuple[float, float]:
    """The median latency of a request, and this process's CPU time per request."""
    for _ in range(WARMUP):
        path.infer([0])
    latencies = []
    cpu_start = time.process_time_ns()
    for _ in range(queries):
        start = time.perf_counter_ns()
        path.infer([0])
        latencies.append((time.perf_counter_ns() - start) / 1000.0)
    cpu_per_query = (time.process_time_ns() - cpu_start) / 1000.0 / queries
    return statistics.median(latencies), cpu_per_query


def measure(name: str, onnx: Path, url: str, repeats: int, queries: int) -> Figures:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx), options, providers=["CPUExecutionProvider"])
    feeds = onnxruntime_program.make_inputs(session, [])
    path = endpoint_program.open_request_path(endpoint_program.Endpoint(url, name))
    figures = Figures()
    try:
        for repeat in range(repeats):
            sides = ("bare", "endpoint") if repeat % 2 == 0 else ("endpoint", "bare")
            for side in sides:
                if side == "bare":
                    figures.bare_us.append(bare_median_us(session, feeds, queries))
                else:
                    latency, cpu = endpoint_median_us(path, queries)
                    figures.endpoint_us.append(latency)
                    figures.client_cpu_us.append(cpu)
    finally:
        path.close()
    return figures


def offline_through_aipep(host, workdir: Path, url: str, model: str, workers: int, seconds: float) -> float:
    """Samples/s of one offline run of the v2 bench program, as the harness runs it."""
    document = {
        "model": {"name": model, "format": "v2_endpoint"},
        "tests": [
            {
                "identifier": f"{model}_offline",
                "metric": "delay",
                "iter": 1,
                "warmup": WARMUP,
                "target": {"protocol": "v2", "url": url, "model": model},
                "scenario": {"name": "offline", "min_duration_s": seconds, "min_queries": 1, "workers": workers},
            }
        ],
    }
    spec = parse_spec(document, workdir / "endpoint_offline.json")
    runner = ArmRunner(get_framework("v2_endpoint"), host, spec.tests[0], {})
    arm = Arm("treatment", sys.executable, "now")
    job = Job(specs=(str(spec.path),), arms=Arms(arm, None))
    meta = build_meta(job, spec, spec.tests[0], "v2_endpoint", host.describe().as_dict(), [arm], None)
    result = run_single(runner, arm, meta)
    if not result.ok:
        raise SystemExit(f"endpoint_cost: the aipep run failed: {result.failure}")
    return result.meta["scenario"]["achieved_qps"]


def bare_pool(url: str, model: str, workers: int, seconds: float) -> float:
    """Samples/s of `workers` threads, each with its own request path, sending requests back to back."""
    paths = [endpoint_program.open_request_path(endpoint_program.Endpoint(url, model)) for _ in range(workers)]
    try:
        for path in paths:
            for _ in range(WARMUP):
                path.infer([0])
        return back_to_back_rate([functools.partial(path.infer, [0]) for path in paths], seconds)
    finally:
        for path in paths:
            path.close()


def under_load(url: str, model: str, worker_counts: list[int], seconds: float, repeats: int) -> list[tuple]:
    """Per worker count: medians of interleaved repeats of aipep's offline rate and the bare pool's."""
    host = get_platform("host")
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="aipep-endpoint-load-") as workdir:
            for workers in worker_counts:
                through = functools.partial(offline_through_aipep, host, Path(workdir), url, model, workers, seconds)
                bare = functools.partial(bare_pool, url, model, workers, seconds)
                rows.append((workers, *interleaved(through, bare, repeats)))
    finally:
        host.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--queries", type=int, default=100, help="queries per repeat and side")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--load_seconds", type=float, default=2.0, help="each offline run under load; 0 skips it")
    parser.add_argument("--load_workers", default="1,2", help="comma-separated worker counts under load")
    args = parser.parse_args()
    names = [name for name in args.models.split(",") if name]
    with tempfile.TemporaryDirectory(prefix="aipep-endpoint-cost-") as scratch:
        root = Path(scratch)
        served = []
        for name in names:
            generate_model(MODELS[name], root / MODELS[name])
            served.append(ServedModel(name, root / MODELS[name]))
        server = start_mlserver(root / "repository", served)
        try:
            load_before = os.getloadavg()
            rows = [
                (name, measure(name, root / MODELS[name], server.url, args.repeats, args.queries)) for name in names
            ]
            load_rows = []
            if args.load_seconds > 0:
                worker_counts = [int(count) for count in args.load_workers.split(",") if count]
                load_rows = under_load(server.url, names[0], worker_counts, args.load_seconds, args.repeats)
            load_after = os.getloadavg()
        finally:
            server.stop()
    print(
        f"v2 endpoint client (tritonclient[http], JSON tensors) against MLServer on loopback; "
        f"{args.repeats} repeats x {args.queries} queries, medians of the repeats' medians"
    )
    header = f"{'model':<14}{'bare p50 us':>13}{'endpoint p50 us':>17}{'ratio':>8}{'added us':>11}{'client CPU us':>15}"
    print(header)
    for name, figures in rows:
        bare = statistics.median(figures.bare_us)
        served_us = statistics.median(figures.endpoint_us)
        cpu = statistics.median(figures.client_cpu_us)
        print(f"{name:<14}{bare:>13.1f}{served_us:>17.1f}{served_us / bare:>8.2f}{served_us - bare:>11.1f}{cpu:>15.1f}")
    if load_rows:
        print(
            f"under load: offline, {names[0]}, {args.load_seconds:g} s a run, medians of {args.repeats} interleaved "
            f"repeats; per query = 1 / rate"
        )
        print(
            f"{'workers':<9}{'aipep samples/s':>17}{'bare samples/s':>16}{'ratio':>8}"
            f"{'aipep us/query':>16}{'bare us/query':>15}{'added us':>10}"
        )
        for workers, through, bare in load_rows:
            print(
                f"{workers:<9}{through:>17.1f}{bare:>16.1f}{through / bare:>8.3f}"
                f"{1e6 / through:>16.1f}{1e6 / bare:>15.1f}{1e6 / through - 1e6 / bare:>10.1f}"
            )
    print(
        f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}; cores: {os.cpu_count()}"
    )
    return 0


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in load)


if __name__ == "__main__":
    sys.exit(main())
