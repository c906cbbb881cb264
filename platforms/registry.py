"""Name → platform class, so the harness can pick one from `-p/--platform`."""

from __future__ import annotations

import importlib
from typing import Any

from aipep_core.errors import UserError

_REGISTRY: dict[str, type] = {}

# Imported on demand: the ssh and android back ends need optional packages.
_BUILTIN_MODULES = {
    "host": "platforms.host",
    "ssh": "platforms.ssh",
    "android": "platforms.android.platform",
}


def register_platform(cls: type) -> type:
    _REGISTRY[cls.name] = cls
    return cls


def available_platforms() -> list[str]:
    return sorted(_BUILTIN_MODULES.keys() | _REGISTRY.keys())


def get_platform(name: str, **options: Any):
    """Return a platform instance; `options` are its command-line settings."""
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        try:
            importlib.import_module(_BUILTIN_MODULES[name])
        except ModuleNotFoundError as exc:
            raise UserError(
                f"--platform {name}: its module cannot be loaded ({exc}); install the matching extra"
            ) from None
    if name not in _REGISTRY:
        raise UserError(f"--platform: unknown platform {name!r}, expected one of {', '.join(available_platforms())}")
    return _REGISTRY[name](**options)
