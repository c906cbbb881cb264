"""MLPerf LoadGen against an in-process pool of workers: the load mode every bench program shares.

A bench program runs under the arm's interpreter, so two virtualenvs stay two arms; this
module is what such a program imports to answer "p99 at N queries a second" or "samples a
second at full load" instead of single-stream latency. LoadGen issues the queries and
judges the run (percentiles, VALID/INVALID, early stopping); nothing here schedules
arrivals or computes percentiles.

Contract for a bench program (the onnxruntime, TFLite and v2 endpoint ones, and any other):

- It imports only its runtime, numpy, the standard library, and, in load mode,
  `mlperf_loadgen`. It finds this module by putting this folder on `sys.path` itself:
  `sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load_program"))`, then
  `import loadgen_runner` (this folder holds nothing else, so no runtime is shadowed).
- `add_load_arguments(parser)` adds `--scenario NAME` and the settings flags that
  `aipep_core.load_scenario.LoadScenario.program_flags()` writes; `load_settings(args)`
  reads them back (None without `--scenario`).
- `run_scenario(settings, infers, sample_count=...)` runs LoadGen once. `infers` holds one
  callable per worker (`len(infers) == settings.workers`): `infer(batch)` gets the sample
  indices of one batch (at most `max_batch`, within `[0, sample_count)`), runs them,
  returns None, and is only ever called from its own worker's thread, so each may own
  a session or interpreter. An exception in `infer` fails the run (exit 1), never hangs it.
- `print_results(result)` prints, on stdout, `AIPEP` observer lines for `NET latency`
  (microseconds per query, as the SUT saw it from LoadGen's issue to the last sample's
  answer) and `NET throughput` (queries/s; samples/s for offline), and one
  `AIPEP_SCENARIO {json}` line with LoadGen's verdict: name, target_qps, achieved_qps,
  valid, invalid_reasons, early_stopping, and LoadGen's own latency percentiles in
  microseconds. LoadGen's summary and detail logs go to stderr between marker lines, so
  they are kept with the process's logs.
- `cold_start_seconds()` is the time since the process started, for `NET cold_start`
  (`print_cold_start`) right after the first answer.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

PREFIX = "AIPEP"
SCENARIO_PREFIX = "AIPEP_SCENARIO"
LOG_BEGIN = "----- LoadGen {name} begin -----"
LOG_END = "----- LoadGen {name} end -----"
SCENARIOS = {
    "single_stream": "SingleStream",
    "multi_stream": "MultiStream",
    "server": "Server",
    "offline": "Offline",
}
# LoadGen's percentiles, under the names the result record's summaries use.
PERCENTILES = {"50.00": "p50", "90.00": "p90", "95.00": "p95", "99.00": "p99", "99.90": "p999"}
# Queries LoadGen may draw sample indices from; the bench programs feed the same data to all.
DEFAULT_SAMPLE_COUNT = 1024
# LoadGen sizes its queries from this many quick probes of the SUT (see _probe_batch_seconds).
_PROBES = 5

Infer = Callable[[list[int]], None]


@dataclass(frozen=True)
class LoadSettings:
    """The spec's `scenario` block as flags brought it (see aipep_core/load_scenario.py)."""

    scenario: str
    target_qps: float | None = None
    latency_bound_ms: float | None = None
    samples_per_query: int = 1
    min_duration_s: float = 2.0
    min_queries: int = 16
    workers: int = 1
    max_batch: int = 1
    batch_timeout_ms: float = 0.0


@dataclass
class LoadResult:
    settings: LoadSettings
    query_latencies_us: list[float]
    throughput: float
    valid: bool
    invalid_reasons: list[str]
    early_stopping: dict
    loadgen_percentiles_us: dict[str, float]
    logs: dict[str, str] = field(default_factory=dict)

    @property
    def throughput_unit(self) -> str:
        return "samples/s" if self.settings.scenario == "offline" else "queries/s"


class WorkerFailure(RuntimeError):
    """An `infer` raised: the run's figures mean nothing, the program exits 1."""


class LoadGenMissing(RuntimeError):
    """The arm's interpreter has no LoadGen: its environment, not the runtime, is what to fix."""


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help="run MLPerf LoadGen in this scenario")
    parser.add_argument("--target_qps", type=float)
    parser.add_argument("--latency_bound_ms", type=float)
    parser.add_argument("--samples_per_query", type=int, default=1)
    parser.add_argument("--min_duration_s", type=float, default=2.0)
    parser.add_argument("--min_queries", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max_batch", type=int, default=1)
    parser.add_argument("--batch_timeout_ms", type=float, default=0.0)
    parser.add_argument(
        "--cold_start", action="store_true", help="report NET cold_start: process start to first answer"
    )


def load_settings(args: argparse.Namespace) -> LoadSettings | None:
    if args.scenario is None:
        return None
    return LoadSettings(
        scenario=args.scenario,
        target_qps=args.target_qps,
        latency_bound_ms=args.latency_bound_ms,
        samples_per_query=args.samples_per_query,
        min_duration_s=args.min_duration_s,
        min_queries=args.min_queries,
        workers=args.workers,
        max_batch=args.max_batch,
        batch_timeout_ms=args.batch_timeout_ms,
    )


@dataclass
class _Query:
    """One LoadGen query: its samples are answered by whichever workers take them."""

    issued_ns: int
    remaining: int


class _WorkerPool:
    """LoadGen's system under test: a queue of samples, drained in batches by one thread per worker.

    A worker takes one sample, then more until `max_batch` or `batch_timeout_ms` after the first
    (aibench's auto-batching); answering the batch answers its samples to LoadGen.
    """

    def __init__(self, lg, infers: Sequence[Infer], max_batch: int, batch_timeout_ms: float) -> None:
        self._lg = lg
        self._samples: queue.SimpleQueue = queue.SimpleQueue()
        self._max_batch = max_batch
        self._batch_timeout_s = batch_timeout_ms / 1000.0
        self._lock = threading.Lock()
        self.latencies_us: list[float] = []
        self.failure: BaseException | None = None
        self._threads = [threading.Thread(target=self._work, args=(infer,), daemon=True) for infer in infers]
        for thread in self._threads:
            thread.start()

    def issue(self, query_samples) -> None:
        query = _Query(time.perf_counter_ns(), len(query_samples))
        for sample in query_samples:
            self._samples.put((query, sample))

    def flush(self) -> None:
        """LoadGen's "no more queries are coming": batches wait for their timeout anyway."""

    def close(self) -> None:
        for _ in self._threads:
            self._samples.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self, infer: Infer) -> None:
        while True:
            first = self._samples.get()
            if first is None:
                return
            batch, closing = self._gather(first)
            self._answer(infer, batch)
            if closing:
                return

    def _gather(self, first) -> tuple[list, bool]:
        batch = [first]
        deadline = time.perf_counter() + self._batch_timeout_s
        while len(batch) < self._max_batch:
            try:
                item = self._samples.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _answer(self, infer: Infer, batch: list) -> None:
        if self.failure is None:
            try:
                infer([sample.index for _, sample in batch])
            except Exception as exc:  # the runtime's own error types; the run is failed, not hung
                self.failure = exc
        done_ns = time.perf_counter_ns()
        with self._lock:
            for query, _ in batch:
                query.remaining -= 1
                if query.remaining == 0:
                    self.latencies_us.append((done_ns - query.issued_ns) / 1000.0)
        self._lg.QuerySamplesComplete([self._lg.QuerySampleResponse(sample.id, 0, 0) for _, sample in batch])


def run_scenario(
    settings: LoadSettings, infers: Sequence[Infer], *, sample_count: int = DEFAULT_SAMPLE_COUNT
) -> LoadResult:
    """Run LoadGen once against `infers` (one per worker) and read its verdict back."""
    try:
        import mlperf_loadgen as lg
    except ModuleNotFoundError:
        raise LoadGenMissing(
            f"--scenario: {sys.executable} cannot import mlperf_loadgen; install mlcommons-loadgen into it"
        ) from None

    if len(infers) != settings.workers:
        raise ValueError(f"expected {settings.workers} infer callables (one per worker), got {len(infers)}")
    test_settings = _test_settings(lg, settings, infers[0])
    log_dir = tempfile.mkdtemp(prefix="aipep-loadgen-")
    pool = _WorkerPool(lg, infers, settings.max_batch, settings.batch_timeout_ms)
    sut = lg.ConstructSUT(pool.issue, pool.flush)
    qsl = lg.ConstructQSL(sample_count, sample_count, lambda _: None, lambda _: None)
    try:
        lg.StartTestWithLogSettings(sut, qsl, test_settings, _log_settings(lg, log_dir))
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
        pool.close()
    try:
        logs = {name: _read(os.path.join(log_dir, f"mlperf_log_{name}.txt")) for name in ("summary", "detail")}
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    if pool.failure is not None:
        raise WorkerFailure(" ".join(str(pool.failure).split())) from pool.failure
    return _result(settings, pool.latencies_us, _detail_entries(logs["detail"]), logs)


def _test_settings(lg, settings: LoadSettings, probe: Infer):
    test = lg.TestSettings()
    test.scenario = getattr(lg.TestScenario, SCENARIOS[settings.scenario])
    test.mode = lg.TestMode.PerformanceOnly
    test.min_duration_ms = int(settings.min_duration_s * 1000)
    # A SUT far slower than asked must end the run INVALID, never stretch it without end.
    test.max_duration_ms = int(max(4 * settings.min_duration_s, 10.0) * 1000)
    test.min_query_count = settings.min_queries
    if settings.scenario == "server":
        test.server_target_qps = settings.target_qps
        test.server_target_latency_ns = int(settings.latency_bound_ms * 1e6)
        return test
    batch_s = _probe_batch_seconds(probe, settings.max_batch)
    if settings.scenario == "offline":
        test.offline_expected_qps = settings.target_qps or settings.workers * settings.max_batch / batch_s
    elif settings.scenario == "multi_stream":
        test.multi_stream_samples_per_query = settings.samples_per_query
        test.multi_stream_expected_latency_ns = _expected_ns(batch_s * settings.samples_per_query)
    else:
        test.single_stream_expected_latency_ns = _expected_ns(batch_s)
    return test


def _probe_batch_seconds(infer: Infer, max_batch: int) -> float:
    """LoadGen sizes its queries before it starts from the rate or latency it expects (offline's one
    query must last min_duration; the streams' pre-generated queries must cover it): a few full
    batches give the order of magnitude."""
    started = time.perf_counter()
    for _ in range(_PROBES):
        infer(list(range(max_batch)))
    return max((time.perf_counter() - started) / _PROBES, 1e-6)


def _expected_ns(seconds: float) -> int:
    """A quarter of the probed latency: more queries are generated than run, never too few."""
    return max(1000, int(seconds * 1e9 / 4))


def _log_settings(lg, log_dir: str):
    output = lg.LogOutputSettings()
    output.outdir = log_dir
    output.copy_summary_to_stdout = False
    log = lg.LogSettings()
    log.log_output = output
    log.enable_trace = False
    return log


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _detail_entries(detail: str) -> dict:
    """The `:::MLLOG {json}` lines of LoadGen's detail log, by key (the last one wins)."""
    entries = {}
    for line in detail.splitlines():
        if line.startswith(":::MLLOG "):
            try:
                record = json.loads(line[len(":::MLLOG ") :])
            except json.JSONDecodeError:
                continue
            entries[record.get("key")] = record.get("value")
    return entries


def _result(settings: LoadSettings, latencies_us: list[float], entries: dict, logs: dict[str, str]) -> LoadResult:
    per_query = "_per_query" if settings.scenario == "multi_stream" else ""
    percentiles = {
        name: entries[f"result_{level}_percentile{per_query}_latency_ns"] / 1000.0
        for level, name in PERCENTILES.items()
        if f"result_{level}_percentile{per_query}_latency_ns" in entries
    }
    reasons = _invalid_reasons(entries, settings)
    return LoadResult(
        settings=settings,
        query_latencies_us=latencies_us,
        throughput=_throughput(settings, entries, latencies_us),
        valid=not reasons,
        invalid_reasons=reasons,
        early_stopping={
            key[len("early_stopping_") :]: value for key, value in entries.items() if key.startswith("early_stopping_")
        },
        loadgen_percentiles_us=percentiles,
        logs=logs,
    )


def _throughput(settings: LoadSettings, entries: dict, latencies_us: list[float]) -> float:
    """LoadGen's figure for the scenario; multi_stream has none, so its queries over their total
    time (one query is in flight at a time, so the latencies add up to the run)."""
    if settings.scenario == "offline":
        return float(entries.get("result_samples_per_second", 0.0))
    if settings.scenario == "server":
        return float(entries.get("result_completed_samples_per_sec", 0.0))
    if settings.scenario == "single_stream":
        return float(entries.get("result_qps_with_loadgen_overhead", 0.0))
    total_s = sum(latencies_us) / 1e6
    return len(latencies_us) / total_s if total_s > 0 else 0.0


def _invalid_reasons(entries: dict, settings: LoadSettings) -> list[str]:
    """Every reason LoadGen gives for INVALID, in its words where it has some; multi_stream's bound
    per query (LoadGen judges none) is held against LoadGen's own p99 per query."""
    reasons = []
    p99_ns = entries.get("result_99.00_percentile_per_query_latency_ns")
    if settings.scenario == "multi_stream" and p99_ns is not None and p99_ns > settings.latency_bound_ms * 1e6:
        reasons.append(f"latency bound: p99 per query {p99_ns / 1e6:.3f} ms above {settings.latency_bound_ms} ms")
    if entries.get("result_validity") == "VALID":
        return reasons
    if entries.get("result_min_duration_met") is False:
        reasons.append("min duration not met")
    if entries.get("result_min_queries_met") is False:
        reasons.append("min queries not met")
    if entries.get("result_perf_constraints_met") is False:
        reasons.append("latency bound not met")
    if entries.get("early_stopping_met") is False:
        reasons.append("early stopping: " + " ".join(str(entries.get("early_stopping_result", "")).split()))
    advice = " ".join(str(entries.get("result_invalid_reason", "")).split())
    if advice:
        reasons.append(f"LoadGen: {advice}")
    return reasons or ["LoadGen: INVALID (no reason given)"]


def print_results(result: LoadResult, stdout=None, stderr=None) -> None:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    for name, text in result.logs.items():
        print(LOG_BEGIN.format(name=name), file=stderr)
        print(text.rstrip("\n"), file=stderr)
        print(LOG_END.format(name=name), file=stderr)
    settings = result.settings
    latency = {
        "type": "NET",
        "metric": "latency",
        "unit": "us",
        "values": [round(v, 3) for v in result.query_latencies_us],
    }
    throughput = {
        "type": "NET",
        "metric": "throughput",
        "unit": result.throughput_unit,
        "value": round(result.throughput, 3),
    }
    scenario = {
        "name": settings.scenario,
        "target_qps": settings.target_qps,
        "achieved_qps": round(result.throughput, 3),
        "valid": result.valid,
        "invalid_reasons": result.invalid_reasons,
        "early_stopping": result.early_stopping,
        "loadgen_latency_us": result.loadgen_percentiles_us,
    }
    print(f"{PREFIX} {json.dumps(latency)}", file=stdout)
    print(f"{PREFIX} {json.dumps(throughput)}", file=stdout)
    print(f"{SCENARIO_PREFIX} {json.dumps(scenario)}", file=stdout, flush=True)


def cold_start_seconds() -> float:
    """Seconds since this process started, from the kernel's start time (clock ticks, 10 ms on most
    Linux kernels) so interpreter start-up and imports count; where /proc cannot tell, since this
    module was imported."""
    try:
        with open("/proc/self/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        started_s = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started_s
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _IMPORTED


def print_cold_start(seconds: float, stdout=None) -> None:
    record = {"type": "NET", "metric": "cold_start", "unit": "ms", "value": round(seconds * 1000.0, 3)}
    print(f"{PREFIX} {json.dumps(record)}", file=stdout or sys.stdout)


_IMPORTED = time.perf_counter()
