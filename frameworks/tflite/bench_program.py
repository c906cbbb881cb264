"""Time a .tflite model with the TFLite interpreter and print AIPEP observer lines.

Runs under whatever interpreter the benchmark names, so it imports only numpy,
the standard library and the runtime: `ai_edge_litert` (works with numpy 2),
else `tflite_runtime` (numpy < 2 only). NET is perf_counter_ns around
`invoke()`. The Python Interpreter exposes no per-operator timings, so only NET
is reported (see README.md).

With `--scenario NAME` it runs MLPerf LoadGen instead, against one interpreter per
worker (an interpreter is not thread-safe; see frameworks/load_program/loadgen_runner.py);
a batch runs sample by sample, since a .tflite model's input shape is fixed once its
tensors are allocated. `--cold_start` reports process start to the first answer as
NET cold_start.

Exit status: 0 on success, 2 for a usage mistake, 1 when the runtime fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

# The shared modules live in folders of their own, so no runtime is shadowed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load_program"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "program_parts"))
import loadgen_runner  # noqa: E402
import turn_taking  # noqa: E402
from program_parts import OneLineParser, UsageError, observer_line  # noqa: E402

INPUT_TYPES = {
    "float": "float32",
    "float32": "float32",
    "float16": "float16",
    "int8": "int8",
    "uint8": "uint8",
    "int": "int32",
    "int32": "int32",
    "int64": "int64",
    "bool": "bool",
}


def load_interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ModuleNotFoundError:
        from tflite_runtime.interpreter import Interpreter
    return Interpreter


def parse_input_flag(text: str) -> tuple[str, tuple[int, ...], str]:
    """`name:d0,d1,...:type`, split from the right because tensor names may hold colons."""
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0] or parts[2] not in INPUT_TYPES:
        raise UsageError(f"--input {text}: expected name:d0,d1,...:type with type one of {', '.join(INPUT_TYPES)}")
    try:
        shape = tuple(int(dim) for dim in parts[1].split(",")) if parts[1] else ()
    except ValueError:
        raise UsageError(f"--input {text}: dimensions must be comma-separated integers") from None
    return parts[0], shape, INPUT_TYPES[parts[2]]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(prog="bench_program.py", allow_abbrev=False)
    parser.add_argument("--model", required=True)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--iter", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--input", action="append", default=[], type=parse_input_flag)
    parser.add_argument("--output", help="write the last outputs here as JSON")
    loadgen_runner.add_load_arguments(parser)
    turn_taking.add_turn_arguments(parser)
    args = parser.parse_args(argv)
    if args.warmup < 0 or args.iter < 1 or args.threads < 1:
        raise UsageError("--warmup must be >= 0, --iter and --threads >= 1")
    return args


def prepare(interpreter, requested: list[tuple[str, tuple[int, ...], str]]) -> None:
    """Resize inputs the spec shapes, allocate, and fill every input with seeded random data."""
    details = {detail["name"]: detail for detail in interpreter.get_input_details()}
    for name, shape, _ in requested:
        if name not in details:
            raise UsageError(f"--input {name}: the model has no such input, expected one of {', '.join(details)}")
        interpreter.resize_tensor_input(details[name]["index"], list(shape))
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        shape = tuple(int(dim) for dim in detail["shape"])
        interpreter.set_tensor(detail["index"], rng.random(shape).astype(detail["dtype"]))


def time_invoke(interpreter, warmup: int, iterations: int, turns=None) -> list[float]:
    """Microseconds per timed invoke(); the bare loop harness_overhead.py compares against. With
    `turns`, each timed invoke() waits for its turn with the partner process (turn_taking.py)."""
    turns = turns or turn_taking.NoTurns()
    for _ in range(warmup):
        interpreter.invoke()
    latencies = []
    with turns.timed_pass():
        for _ in range(iterations):
            with turns.turn():
                start = time.perf_counter_ns()
                interpreter.invoke()
                latencies.append((time.perf_counter_ns() - start) / 1000.0)
    return latencies


def write_outputs(path: str, interpreter) -> None:
    document = {}
    for detail in interpreter.get_output_details():
        array = interpreter.get_tensor(detail["index"])
        document[detail["name"]] = {"shape": list(array.shape), "values": array.ravel().tolist()}
    with open(path, "w") as handle:
        json.dump(document, handle)


def run_load(interpreter_class, args, settings) -> int:
    """LoadGen against `workers` interpreters; the first one's load and first invoke are the cold start."""
    interpreters = [interpreter_class(model_path=args.model, num_threads=args.threads)]
    prepare(interpreters[0], args.input)
    interpreters[0].invoke()
    if args.cold_start:
        loadgen_runner.print_cold_start(loadgen_runner.cold_start_seconds())
    for _ in range(settings.workers - 1):
        interpreters.append(interpreter_class(model_path=args.model, num_threads=args.threads))
        prepare(interpreters[-1], args.input)
    for interpreter in interpreters:
        time_invoke(interpreter, args.warmup, 1)
    infers = [_invoke_each(interpreter) for interpreter in interpreters]
    loadgen_runner.print_results(loadgen_runner.run_scenario(settings, infers))
    return 0


def _invoke_each(interpreter):
    def infer(batch: list[int]) -> None:
        for _ in batch:
            interpreter.invoke()

    return infer


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        settings = loadgen_runner.load_settings(args)
        interpreter_class = load_interpreter_class()
        turns = turn_taking.turns_from_args(args, UsageError)
        try:
            if settings is not None:
                return run_load(interpreter_class, args, settings)
            interpreter = interpreter_class(model_path=args.model, num_threads=args.threads)
            prepare(interpreter, args.input)
            if args.cold_start:
                interpreter.invoke()
                loadgen_runner.print_cold_start(loadgen_runner.cold_start_seconds())
            latencies = time_invoke(interpreter, args.warmup, args.iter, turns)
            if args.output:
                write_outputs(args.output, interpreter)
        except UsageError:
            raise
        except turn_taking.TurnError as exc:
            print(f"bench_program.py: taking turns: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # the runtime raises ValueError/RuntimeError for load and run failures
            print(f"bench_program.py: TFLite interpreter failed: {' '.join(str(exc).split())}", file=sys.stderr)
            return 1
    except UsageError as exc:
        print(f"bench_program.py: error: {exc}", file=sys.stderr)
        return 2
    print(observer_line("NET", latencies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
