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


def cpu_mask(cpus: list[int]) -> str:
    """The hexadecimal mask `taskset` takes for these CPU numbers."""
    return format(sum(1 << cpu for cpu in cpus), "x")


def mask_cpus(mask: str) -> list[int] | None:
    """The CPU numbers a hexadecimal `taskset` mask names; None when it is no such mask."""
    try:
        bits = int(str(mask), 16)
    except ValueError:
        return None
    return [cpu for cpu in range(bits.bit_length()) if bits >> cpu & 1] or None


def parse_cpu_list(text: str) -> list[int] | None:
    """The kernel's CPU list format (`0-3,6`, as in /proc/self/status Cpus_allowed_list); None when unreadable."""
    cpus: list[int] = []
    try:
        for part in text.strip().split(","):
            first, _, last = part.partition("-")
            cpus.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        return None
    return sorted(set(cpus)) or None


def _local_taskset() -> str:
    found = shutil.which("taskset")
    if found is None:
        raise UserError("platform_args.taskset: needs the 'taskset' program, which is not installed")
    return found
