"""Name → framework class, so the harness can pick one from a flag."""

from __future__ import annotations

import importlib

from aipep_core.errors import UserError

_REGISTRY: dict[str, type] = {}

# Modules that register frameworks when imported. Importing lazily keeps optional
# runtimes (tflite) from being loaded by users who never ask for them.
_BUILTIN_MODULES = {
    "caffe2": "frameworks.caffe2",
    "generic": "frameworks.generic",
    "microkernel": "frameworks.generic",
    "onnxruntime": "frameworks.onnxruntime.framework",
    "pytorch": "frameworks.generic",
    "tflite": "frameworks.tflite.framework",
    "v2_endpoint": "frameworks.v2_endpoint.framework",
}


def register_framework(cls: type) -> type:
    _REGISTRY[cls.name] = cls
    return cls


def available_frameworks() -> list[str]:
    return sorted(_BUILTIN_MODULES.keys() | _REGISTRY.keys())


def get_framework(name: str, where: str = "--framework"):
    """Return a new instance of the framework called `name`; `where` names, in errors, what asked
    for it (the flag, or a spec's `model.format`)."""
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        try:
            importlib.import_module(_BUILTIN_MODULES[name])
        except ModuleNotFoundError as exc:
            raise UserError(f"{where} {name}: its module cannot be loaded ({exc})") from None
    if name not in _REGISTRY:
        raise UserError(f"{where}: unknown framework {name!r}, expected one of {', '.join(available_frameworks())}")
    return _REGISTRY[name]()
