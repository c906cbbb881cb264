"""Killing a process and everything it started, so a hung benchmark leaves no orphans."""

from __future__ import annotations

import contextlib
import os
import signal

import psutil


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_tree(pid: int, extra: list[psutil.Process] = ()) -> None:
    """SIGKILL `pid`, its process group and every known descendant.

    Descendants are collected before anything is killed: once the parent dies
    its children are re-parented and can no longer be found from it.
    """
    victims = [*descendants(pid), *extra]
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    for process in [psutil.Process(pid) if psutil.pid_exists(pid) else None, *victims]:
        if process is None:
            continue
        with contextlib.suppress(psutil.Error):
            process.kill()
