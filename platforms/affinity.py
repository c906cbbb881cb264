"""Pinning a benchmark process to CPUs, so `platform_args.taskset` means the same on every platform.

The command is prefixed with `taskset MASK`. On this machine the program is looked up first,
so a missing one is one line for the user; on a board or a phone it is run there, and a
missing one fails that run like any other program that is not installed.
"""

from __future__ import annotations

import shutil
from typing import Any

from aipep_core.errors import UserError


def with_affinity(argv: list[str], platform_args: dict[str, Any] | None, *, on_this_machine: bool = False) -> list[str]:
    """`argv` pinned to the test's `taskset` mask, or unchanged when the test gives none."""
    mask = (platform_args or {}).get("taskset")
    if not mask:
        return argv
    return [_local_taskset() if on_this_machine else "taskset", str(mask), *argv]


def _local_taskset() -> str:
    found = shutil.which("taskset")
    if found is None:
        raise UserError("platform_args.taskset: needs the 'taskset' program, which is not installed")
    return found
