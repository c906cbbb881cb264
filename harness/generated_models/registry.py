"""Name → function that writes a generated model file."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from aipep_core.errors import UserError

Generator = Callable[[Path], None]

_GENERATORS: dict[str, Generator] = {}

# Modules whose import registers generators; loaded lazily because each needs
# its framework's packages (onnx, the LiteRT schema, scikit-learn).
_GENERATOR_MODULES = (
    "harness.generated_models.onnx_models",
    "harness.generated_models.tflite_models",
    "harness.generated_models.sklearn_models",
)


def register_generator(name: str) -> Callable[[Generator], Generator]:
    def decorate(function: Generator) -> Generator:
        _GENERATORS[name] = function
        return function

    return decorate


def _load_all() -> None:
    for module in _GENERATOR_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            continue


def available_models() -> list[str]:
    _load_all()
    return sorted(_GENERATORS)


def generate_model(name: str, destination: Path) -> None:
    """Write the model called `name` to `destination`."""
    _load_all()
    if name not in _GENERATORS:
        raise UserError(f"generated://{name}: unknown generated model, expected one of {', '.join(available_models())}")
    _GENERATORS[name](destination)
