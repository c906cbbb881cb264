"""Time an ONNX model with onnxruntime and print AIPEP observer lines.

This script is the `{program}`-side of the onnxruntime framework: it runs
under whatever interpreter the benchmark names (another virtualenv means
another onnxruntime build), so it imports nothing but onnxruntime, numpy and
the standard library.

Two passes through one session, so the whole-network figure stays honest:

1. Operators: the session is created with onnxruntime's profiler on and runs `warmup` +
   `iter` times. The profiler is the only source of per-node times that knows what the
   runtime actually executed after its graph rewrites (fused and layout-converted nodes
   carry the runtime's names). Its "Node" events ending in `_kernel_time` are assigned to
   iterations by the "model_run" session event whose span contains them. The profiler's
   resolution is one microsecond, so a sub-microsecond node may read 0.
2. NET: `end_profiling` turns the profiler off for good, and the same session then runs
   `iter` timed times, each measured with perf_counter_ns around `session.run`. The
   profiler adds work around every kernel, which would inflate NET if it were still on;
   once ended, the session runs as fast as one never profiled (benchmarks/harness_overhead.py
   compares the NET the harness reports with a bare loop of an unprofiled session), and it
   is already warm. One session instead of one per pass saves a model load and a warm-up
   in every process. Without the operator pass, NET runs its own `warmup` first.

`--net_in_operator_pass` times NET around the profiled pass's own runs instead and skips the
second pass: a process then runs `iter` timed iterations, not twice that, and NET carries the
profiler's cost (benchmarks/harness_overhead.py prints the ratio to a bare loop for a spec that
asks for it: 1.7% on MobileNetV1's p50).
Both arms carry it alike, so an A/B's ratio keeps its meaning while each round costs less on a
model whose inferences dominate it (README.md has the figures).

With `--scenario NAME` (and its settings) it runs MLPerf LoadGen instead, against one
session per worker (see frameworks/load_program/loadgen_runner.py): a batch stacks the
sample along the first dimension where every input's first dimension is dynamic, and
runs sample by sample otherwise. `--cold_start` reports the time from process start to
the first answer (model load and one run) as NET cold_start.

Exit status: 0 on success, 2 for a usage mistake (one line on stderr),
1 when onnxruntime fails to load or run the model.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The shared modules live in folders of their own, so no runtime is shadowed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load_program"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "program_parts"))
import loadgen_runner  # noqa: E402
import turn_taking  # noqa: E402
from program_parts import (  # noqa: E402
    INPUT_SEED,
    InputSpec,
    OneLineParser,
    UsageError,
    non_negative,
    observer_line,
    parse_shape,
    positive,
    random_array,
    refuse_unknown_inputs,
)

# FAI-PEP / spec type names → numpy dtypes. The framework module reads this
# table to refuse a bad spec early, which is why onnxruntime is imported in
# main() rather than here.
INPUT_TYPES = {
    "float": "float32",
    "float32": "float32",
    "float16": "float16",
    "half": "float16",
    "double": "float64",
    "float64": "float64",
    "int8": "int8",
    "uint8": "uint8",
    "uint8_t": "uint8",
    "int16": "int16",
    "int": "int32",
    "int32": "int32",
    "int64": "int64",
    "int64_t": "int64",
    "long": "int64",
    "bool": "bool",
}
# onnxruntime's names for tensor element types, for inputs the model declares.
_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}
GRAPH_OPTIMIZATIONS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def parse_input_flag(text: str) -> InputSpec:
    """`name:d0,d1,...:type`; split from the right because names such as `input:0` contain colons."""
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0]:
        raise UsageError(f"--input {text}: expected name:d0,d1,...:type")
    name, dims, type_name = parts
    if type_name not in INPUT_TYPES:
        raise UsageError(f"--input {text}: unknown type {type_name!r}, expected one of {', '.join(INPUT_TYPES)}")
    return InputSpec(name, parse_shape(text, dims), INPUT_TYPES[type_name])


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(prog="bench_program.py", description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--model", required=True, help="the .onnx file")
    parser.add_argument("--warmup", type=non_negative, default=0, help="untimed runs first")
    parser.add_argument("--iter", type=positive, default=10, help="timed runs")
    parser.add_argument("--threads", type=non_negative, default=1, help="intra-op threads; 0 = runtime default")
    parser.add_argument("--provider", default="CPUExecutionProvider", help="execution provider")
    parser.add_argument("--graph_optimization", choices=sorted(GRAPH_OPTIMIZATIONS), default="all")
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        type=parse_input_flag,
        metavar="NAME:D0,D1,...:TYPE",
        help="shape and type of one input (repeatable); others use the model's shapes, dynamic dims = 1",
    )
    parser.add_argument("--no_operators", action="store_true", help="skip the profiled per-operator pass")
    parser.add_argument(
        "--net_in_operator_pass",
        action="store_true",
        help="time NET in the profiled operator pass (NET then carries the profiler's cost), not in a pass of its own",
    )
    parser.add_argument("--output", help="write the last run's outputs here as JSON {name: {shape, values}}")
    loadgen_runner.add_load_arguments(parser)
    turn_taking.add_turn_arguments(parser)
    parser.add_argument(
        "--dataset_inputs",
        help="a .npy file of samples, one per row: after timing, each runs once, in order, "
        "and --output gets every sample's outputs stacked along the first axis",
    )
    args = parser.parse_args(argv)
    if not os.path.isfile(args.model):
        raise UsageError(f"--model {args.model}: file not found")
    if args.dataset_inputs is not None and not args.output:
        raise UsageError("--dataset_inputs: expected --output too, where the samples' outputs go")
    if args.net_in_operator_pass and args.no_operators:
        raise UsageError("--net_in_operator_pass: there is no operator pass to time NET in (--no_operators)")
    return args


def session_options(ort, threads: int, graph_optimization: str, profile_prefix: str | None = None):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, GRAPH_OPTIMIZATIONS[graph_optimization])
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return options


def make_inputs(session, requested: list[InputSpec]) -> dict[str, np.ndarray]:
    """Seeded random feeds: the same bytes in every process, so both arms of an A/B see the same data."""
    by_name = {spec.name: spec for spec in requested}
    declared = session.get_inputs()
    refuse_unknown_inputs(requested, [meta.name for meta in declared])
    rng = np.random.default_rng(INPUT_SEED)
    feeds = {}
    for meta in declared:
        spec = by_name.get(meta.name) or _declared_input(meta)
        feeds[meta.name] = random_array(rng, spec.shape, spec.dtype)
    return feeds


def _declared_input(meta) -> InputSpec:
    if meta.type not in _ORT_TYPES:
        raise UsageError(f"--input {meta.name}: the model's type {meta.type} cannot be generated, name a type")
    shape = tuple(dim if isinstance(dim, int) and dim > 0 else 1 for dim in meta.shape)
    return InputSpec(meta.name, shape, _ORT_TYPES[meta.type])


def run_dataset(session, path: str, feeds: dict) -> list[np.ndarray]:
    """Each sample through the model's first input, one run per sample in file order (batch 1, as
    a deployed classifier sees them); other inputs keep their seeded feeds."""
    try:
        samples = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--dataset_inputs {path}: not a readable .npy file ({exc})") from None
    first = session.get_inputs()[0]
    shape = _declared_input(first).shape
    if samples.ndim < 1 or samples[0].size != int(np.prod(shape)):
        width = samples[0].size if samples.ndim >= 1 and len(samples) else 0
        raise UsageError(
            f"--dataset_inputs: a sample has {width} values, the model's input {first.name} takes "
            f"{list(shape)} ({int(np.prod(shape))} values)"
        )
    dtype = feeds[first.name].dtype
    per_output: list[list[np.ndarray]] = [[] for _ in session.get_outputs()]
    for sample in samples:
        outputs = session.run(None, {**feeds, first.name: sample.reshape(shape).astype(dtype)})
        for collected, value in zip(per_output, outputs, strict=True):
            collected.append(np.asarray(value))
    return [np.concatenate(values) if values[0].ndim else np.stack(values) for values in per_output]


def time_network(session, feeds: dict, warmup: int, iterations: int, turns=None) -> tuple[list[float], list]:
    """Per-iteration latency in microseconds, and the outputs of the last run; with `turns`, each
    timed run waits for its turn with the partner process (turn_taking.py)."""
    turns = turns or turn_taking.NoTurns()
    outputs = None
    for _ in range(warmup):
        outputs = session.run(None, feeds)
    latencies = []
    with turns.timed_pass():
        for _ in range(iterations):
            with turns.turn():
                start = time.perf_counter_ns()
                outputs = session.run(None, feeds)
                latencies.append((time.perf_counter_ns() - start) / 1000.0)
    return latencies, outputs


@dataclass
class NodeTimes:
    op_type: str
    values: list[float]


def node_times(profile: list[dict], iterations: int) -> dict[str, NodeTimes]:
    """Per-node kernel times of the last `iterations` model runs in an onnxruntime profile."""
    runs = sorted((event for event in profile if _is_model_run(event)), key=lambda event: event["ts"])[-iterations:]
    kernels = sorted(
        (e for e in profile if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")),
        key=lambda event: event["ts"],
    )
    starts = [event["ts"] for event in kernels]
    names = _node_names(kernels)
    result: dict[str, NodeTimes] = {}
    for run in runs:
        first = bisect.bisect_left(starts, run["ts"])
        last = bisect.bisect_right(starts, run["ts"] + run["dur"])
        # A node inside a loop body runs several times per model run; its cost for the run is the sum.
        per_run: dict[str, float] = {}
        for event in kernels[first:last]:
            name = names[_node_id(event)]
            per_run[name] = per_run.get(name, 0.0) + float(event["dur"])
            result.setdefault(name, NodeTimes(str(event.get("args", {}).get("op_name", "")), []))
        for name, duration in per_run.items():
            result[name].values.append(duration)
    return result


def _is_model_run(event: dict) -> bool:
    return event.get("cat") == "Session" and event.get("name") == "model_run"


def _node_id(event: dict) -> tuple[str, str]:
    return event["name"][: -len("_kernel_time")], str(event.get("args", {}).get("node_index", ""))


def _node_names(kernels: list[dict]) -> dict[tuple[str, str], str]:
    """A unique report name per executed node: its own, unless empty, "NET", or shared with another node."""
    ids = {_node_id(event): event for event in kernels}
    taken: dict[str, int] = {}
    for name, _ in ids:
        taken[name] = taken.get(name, 0) + 1
    names = {}
    for (name, index), event in ids.items():
        op_type = str(event.get("args", {}).get("op_name", "node"))
        if not name:
            names[(name, index)] = f"{op_type}#{index}"
        elif name == "NET" or taken[name] > 1:
            names[(name, index)] = f"{name}#{index}"
        else:
            names[(name, index)] = name
    return names


def profile_nodes(session, args, feeds: dict, turns) -> tuple[list[float], list, dict[str, NodeTimes]]:
    """The operator pass of a session created with profiling on, and the pass's own NET latencies
    and last outputs; it ends the profiling."""
    latencies, outputs = time_network(session, feeds, args.warmup, args.iter, turns)
    with open(session.end_profiling()) as handle:
        profile = json.load(handle)
    runs = sum(1 for event in profile if _is_model_run(event))
    if runs < args.warmup + args.iter:
        print(
            f"bench_program.py: warning: the profile holds {runs} of {args.warmup + args.iter} runs "
            "(onnxruntime's event limit); operator figures cover fewer iterations",
            file=sys.stderr,
        )
    return latencies, outputs, node_times(profile, args.iter)


def write_outputs(path: str, session, outputs: list) -> None:
    document = {}
    for meta, value in zip(session.get_outputs(), outputs, strict=True):
        array = np.asarray(value)
        document[meta.name] = {"shape": list(array.shape), "values": array.ravel().tolist()}
    with open(path, "w") as handle:
        json.dump(document, handle)


def batched_infer(session, feeds: dict[str, np.ndarray], max_batch: int):
    """`infer(batch)` for the load mode: one run over the stacked batch where the model takes any
    batch size, else one run per sample."""
    stackable = all(
        not (isinstance(meta.shape[0], int) and meta.shape[0] > 0) for meta in session.get_inputs() if meta.shape
    )
    if stackable and max_batch > 1:
        stacked = {name: np.concatenate([value] * max_batch) for name, value in feeds.items()}

        def infer(batch: list[int]) -> None:
            session.run(None, {name: value[: len(batch)] for name, value in stacked.items()})

        return infer

    def infer_each(batch: list[int]) -> None:
        for _ in batch:
            session.run(None, feeds)

    return infer_each


def run_load(ort, args, providers: list[str], settings) -> int:
    """LoadGen against `workers` sessions; the first one's load and first run are the cold start."""
    options = session_options(ort, args.threads, args.graph_optimization)
    sessions = [ort.InferenceSession(args.model, options, providers=providers)]
    feeds = make_inputs(sessions[0], args.input)
    sessions[0].run(None, feeds)
    if args.cold_start:
        loadgen_runner.print_cold_start(loadgen_runner.cold_start_seconds())
    sessions += [ort.InferenceSession(args.model, options, providers=providers) for _ in range(settings.workers - 1)]
    infers = [batched_infer(session, feeds, settings.max_batch) for session in sessions]
    for infer in infers:
        for _ in range(args.warmup):
            infer([0])
    loadgen_runner.print_results(loadgen_runner.run_scenario(settings, infers))
    return 0


def measure(ort, args, providers: list[str], profile_dir: str | None, turns):
    """NET latencies, and per-node times unless `profile_dir` (where the profile goes) is None.

    A cold start is timed on a session without the profiler, so it means the same with the
    operator pass as without; the passes then run in a second, profiled session."""

    def new_session(profiled: bool):
        prefix = os.path.join(profile_dir, "profile") if profiled else None
        options = session_options(ort, args.threads, args.graph_optimization, prefix)
        return ort.InferenceSession(args.model, options, providers=providers)

    session = new_session(profile_dir is not None and not args.cold_start)
    feeds = make_inputs(session, args.input)
    if args.cold_start:
        session.run(None, feeds)
        loadgen_runner.print_cold_start(loadgen_runner.cold_start_seconds())
    nodes: dict[str, NodeTimes] = {}
    warmup = args.warmup
    if profile_dir is not None:
        if args.cold_start:
            session = new_session(True)
        latencies, outputs, nodes = profile_nodes(session, args, feeds, turns)
        warmup = 0  # the operator pass has warmed this session
    if not args.net_in_operator_pass:  # parse_args refuses it without the operator pass
        latencies, outputs = time_network(session, feeds, warmup, args.iter, turns)
    if args.dataset_inputs is not None:
        outputs = run_dataset(session, args.dataset_inputs, feeds)
    if args.output:
        write_outputs(args.output, session, outputs)
    return latencies, nodes


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        settings = loadgen_runner.load_settings(args)
        import onnxruntime as ort

        if args.provider not in ort.get_available_providers():
            available = ", ".join(ort.get_available_providers())
            raise UsageError(f"--provider {args.provider}: not available in this build, expected one of {available}")
        providers = [args.provider]
        turns = turn_taking.turns_from_args(args, UsageError)
        try:
            if settings is not None:
                return run_load(ort, args, providers, settings)
            profile_dir = None if args.no_operators else tempfile.mkdtemp(prefix="aipep-ort-profile-")
            try:
                latencies, nodes = measure(ort, args, providers, profile_dir, turns)
            finally:
                if profile_dir is not None:
                    shutil.rmtree(profile_dir, ignore_errors=True)
        except UsageError:
            raise
        except turn_taking.TurnError as exc:
            print(f"bench_program.py: taking turns: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # onnxruntime raises its own exception types for load and run failures
            message = " ".join(str(exc).split())
            print(f"bench_program.py: onnxruntime {ort.__version__} failed: {message}", file=sys.stderr)
            return 1
    except UsageError as exc:
        print(f"bench_program.py: error: {exc}", file=sys.stderr)
        return 2
    print(observer_line("NET", latencies))
    for name, times in nodes.items():
        print(observer_line(name, times.values, op_type=times.op_type))
    return 0


if __name__ == "__main__":
    sys.exit(main())
