"""What every bench program parses, draws and prints the same way, kept in one place.

Bench programs run by path under the arm's interpreter, so they cannot import the `frameworks`
package; each puts this folder on `sys.path` itself, as it does for the load mode:
`sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "program_parts"))`, then
`import program_parts`. This folder holds nothing else, so no runtime is shadowed, and this
module imports only numpy and the standard library.

The seeded inputs live here so that two programs feeding the same model (the onnxruntime one
in-process, the v2 endpoint one over the wire) draw the same bytes: one seed, one draw per input.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import numpy as np

INPUT_SEED = 20240601
PREFIX = "AIPEP"


class UsageError(Exception):
    """A mistake in the flags or the files they name; the program exits 2 with one line."""


@dataclass(frozen=True)
class InputSpec:
    """`dtype` is a numpy dtype name."""

    name: str
    shape: tuple[int, ...]
    dtype: str


class OneLineParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage, so a mistake is one line."""

    def error(self, message: str) -> None:
        raise UsageError(message)


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def positive(text: str) -> int:
    value = non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected an integer >= 1, got 0")
    return value


def parse_shape(flag_text: str, dims: str) -> tuple[int, ...]:
    """The `d0,d1,...` part of an `--input` flag; `flag_text` is the whole flag, for the message."""
    try:
        shape = tuple(int(dim) for dim in dims.split(",")) if dims else ()
    except ValueError:
        raise UsageError(f"--input {flag_text}: dimensions must be comma-separated integers") from None
    if any(dim < 0 for dim in shape):
        raise UsageError(f"--input {flag_text}: dimensions must be >= 0")
    return shape


def refuse_unknown_inputs(requested: list[InputSpec], declared: list[str]) -> None:
    """An `--input` the model does not declare is a usage mistake naming the model's inputs."""
    unknown = sorted({spec.name for spec in requested} - set(declared))
    if unknown:
        names = ", ".join(declared) or "none"
        raise UsageError(f"--input {unknown[0]}: the model has no such input, its inputs are {names}")


def random_array(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """One seeded input; a program that makes the same calls in the same order gets the same bytes."""
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if np.issubdtype(np.dtype(dtype), np.floating):
        return rng.random(size=shape, dtype=np.float64).astype(dtype)
    return rng.integers(0, 16, size=shape).astype(dtype)


def observer_line(kind: str, values: list[float], metric: str = "latency", **extra: str) -> str:
    """One `AIPEP {json}` line, the format frameworks/observer_lines.py reads back."""
    record = {"type": kind, "metric": metric, "unit": "us", "values": [round(v, 3) for v in values], **extra}
    return f"{PREFIX} {json.dumps(record)}"
