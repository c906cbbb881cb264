"""Name → platform class, so the harness can pick one from `-p/--platform`, and what each one takes."""

from __future__ import annotations

import importlib
from typing import Any

from aipep_core.errors import UserError
from platforms.base import Platform, PlatformOption

_REGISTRY: dict[str, type[Platform]] = {}

# Imported on demand: the ssh and android back ends need optional packages.
_BUILTIN_MODULES = {
    "host": "platforms.host",
    "ssh": "platforms.ssh",
    "android": "platforms.android.platform",
}


def register_platform(cls: type[Platform]) -> type[Platform]:
    _REGISTRY[cls.name] = cls
    return cls


def available_platforms() -> list[str]:
    return sorted(_BUILTIN_MODULES.keys() | _REGISTRY.keys())


def platform_class(name: str) -> type[Platform]:
    """The class registered as `name`, importing a built-in one on first use."""
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        try:
            importlib.import_module(_BUILTIN_MODULES[name])
        except ModuleNotFoundError as exc:
            raise UserError(
                f"--platform {name}: its module cannot be loaded ({exc}); install the matching extra"
            ) from None
    if name not in _REGISTRY:
        raise UserError(f"--platform: unknown platform {name!r}, expected one of {', '.join(available_platforms())}")
    return _REGISTRY[name]


def loadable_platforms() -> list[type[Platform]]:
    """Every platform whose module loads here: a platform whose optional package is missing
    cannot run, so its options are not offered either."""
    found = []
    for name in available_platforms():
        try:
            found.append(platform_class(name))
        except UserError:
            continue
    return found


def declared_options() -> dict[str, tuple[PlatformOption, list[str]]]:
    """Each option name, as declared (the first declaration), with the platforms that declare it.

    Two platforms may share an option (a lock timeout) only with the same type: one flag serves both.
    """
    found: dict[str, tuple[PlatformOption, list[str]]] = {}
    for cls in loadable_platforms():
        for option in cls.options:
            if option.name in found and found[option.name][0].type is not option.type:
                raise TypeError(f"platform option {option.name}: {cls.name} declares another type than before")
            found.setdefault(option.name, (option, []))[1].append(cls.name)
    return found


def check_platform_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """`options` checked against platform `name`'s declarations (see Platform.check_options)."""
    return platform_class(name).check_options(options)


def get_platform(name: str, *, device: str | None = None, timeout: float | None = None, **options: Any) -> Platform:
    """Return a platform instance; `options` must be ones the platform declares."""
    cls = platform_class(name)
    return cls(device=device, timeout=timeout, **cls.check_options(options))
