"""The `error` metric: how far a program's outputs are from golden outputs.

A program writes its outputs as JSON, either one tensor `{"shape", "values"}`
or several `{name: {"shape", "values"}}`. The golden outputs are the spec's
`output_files`, or in an A/B run the control's own outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aipep_core.errors import RunFailure
from frameworks.samples import MetricSamples

OUTPUT_FILE = "output.json"
SINGLE_OUTPUT = "output"


class OutputFileError(RunFailure):
    """An output file that is missing or cannot be read as tensors."""


@dataclass(frozen=True)
class OutputError:
    max_abs_error: float
    max_rel_error: float
    top1_agreement: float

    def samples(self, name: str) -> list[MetricSamples]:
        return [
            MetricSamples(name, "max_abs_error", "", (self.max_abs_error,)),
            MetricSamples(name, "max_rel_error", "", (self.max_rel_error,)),
            MetricSamples(name, "top1_agreement", "", (self.top1_agreement,)),
        ]


def read_outputs(path: Path) -> dict[str, np.ndarray]:
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise OutputFileError(f"{path.name}: the program wrote no output file") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise OutputFileError(f"{path.name}: output is not readable JSON ({exc})") from None
    if isinstance(document, dict) and "values" in document:
        document = {SINGLE_OUTPUT: document}
    if not isinstance(document, dict) or not document:
        raise OutputFileError(f"{path.name}: expected {{name: {{shape, values}}}} or {{shape, values}}")
    return {name: _tensor(path, name, entry) for name, entry in document.items()}


def _tensor(path: Path, name: str, entry: object) -> np.ndarray:
    try:
        values = np.asarray(entry["values"], dtype=np.float64)
        return values.reshape(entry.get("shape", values.shape))
    except (TypeError, KeyError, ValueError) as exc:
        raise OutputFileError(f"{path.name}: output {name!r}: not a tensor with shape and values ({exc})") from None


def compare_outputs(actual: dict[str, np.ndarray], golden: dict[str, np.ndarray]) -> dict[str, OutputError]:
    """Error of every golden output; a missing or reshaped output is a failure, not a number."""
    errors = {}
    for name, expected in golden.items():
        if name not in actual:
            raise OutputFileError(f"output {name!r} missing; the program wrote {sorted(actual)}")
        got = actual[name]
        if got.shape != expected.shape:
            raise OutputFileError(f"output {name!r} has shape {list(got.shape)}, golden has {list(expected.shape)}")
        errors[name] = measure(got, expected)
    return errors


def measure(got: np.ndarray, expected: np.ndarray) -> OutputError:
    """Max absolute and relative error, and top-1 agreement along the last axis (classifiers)."""
    difference = np.abs(got - expected)
    scale = np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
    if got.ndim == 0:
        agreement = 1.0
    else:
        rows_got = got.reshape(-1, got.shape[-1]) if got.ndim > 1 else got.reshape(1, -1)
        rows_expected = expected.reshape(rows_got.shape)
        agreement = float(np.mean(np.argmax(rows_got, axis=1) == np.argmax(rows_expected, axis=1)))
    return OutputError(float(difference.max(initial=0.0)), float((difference / scale).max(initial=0.0)), agreement)
