"""Finding and ending everything a run started, also what left its process tree.

A benchmark or a build may leave processes behind: a server it forgot, a daemon that
called setsid() and forked twice. Such a daemon is in neither the process tree (its
parent exited, so it was re-parented), nor the process group, nor the session of the
process we started, so killing the tree or the group misses it; and if it inherited
stdout, a reader waiting for end-of-file waits as long as the daemon lives. A run is
therefore tracked three ways, and ended by all three:

- its session and process group: the program starts a new session, so everything that
  did not call setsid() shares its session id;
- an environment marker: every process gets AIPEP_RUN_MARKER=<random token>, which all
  descendants inherit unless they replace their whole environment; /proc shows it for
  processes of the same user (psutil's environ());
- a cgroup v2, where this process may create one (root, or a delegated subtree): the
  forked child joins a fresh cgroup before it executes the program, so every descendant
  is born into it and cannot leave it without privileges, and cgroup.kill ends them all.

Where no cgroup can be made the first two still apply; what escapes them is a process
that both leaves the session and clears its environment.

A run with constraints also gets their limits on its cgroups (platforms/cgroup_limits.py),
joined the same way before the program executes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from pathlib import Path

import psutil

from aipep_core.errors import UserError
from aipep_core.run_constraints import RunConstraints
from platforms.cgroup_limits import CGROUP_PREFIX, CgroupLimits, apply_limits, remove_stale

ENV_MARKER = "AIPEP_RUN_MARKER"
# Ending is retried while something is still found (a daemon may fork as it is killed), this long at most.
END_DEADLINE_S = 5.0


class TrackedRun:
    """One run's processes: start the child with `environment()` and `join_before_exec`, `adopt(pid)`, then `end()`."""

    def __init__(self, *, use_cgroup: bool = True, constraints: RunConstraints | None = None) -> None:
        self.marker = secrets.token_hex(12)
        self.started = time.time()
        self.leader: int | None = None
        self.cgroup = _make_cgroup(CGROUP_PREFIX + self.marker) if use_cgroup or constraints else None
        self._procs_fd = _open_for_writing(self.cgroup / "cgroup.procs") if self.cgroup is not None else None
        self._lock = threading.Lock()
        self.limits: CgroupLimits | None = None
        if constraints is not None:
            try:
                self.limits = apply_limits(constraints, CGROUP_PREFIX + self.marker, self.cgroup)
            except UserError:
                self._remove_cgroup()
                raise
            self.limits.open_for_joining()

    def environment(self) -> dict[str, str]:
        return {ENV_MARKER: self.marker}

    def join_before_exec(self) -> None:
        """Popen's preexec_fn: the child enters the run's cgroup before the program can fork.

        Joining from the parent after the start would leave out a child forked in the first
        instant. Only a write to an fd opened beforehand happens in the forked child ("0" means
        the writing process), which is safe there even when the parent has threads.
        """
        if self._procs_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self._procs_fd, b"0")
        if self.limits is not None:
            self.limits.join_from_child()

    def adopt(self, pid: int) -> None:
        """Remember the started process; a child started without join_before_exec moves into the cgroup now."""
        self.leader = pid
        self._close_procs_fd()
        if self.limits is not None:
            self.limits.close_fds()
            self.limits.make_member(pid)
        if self.cgroup is None:
            return
        try:
            (self.cgroup / "cgroup.procs").write_text(str(pid))
        except OSError:
            self._remove_cgroup()

    def members(self) -> list[psutil.Process]:
        """Every live process of this run other than ourselves, found any of the three ways."""
        pids = set(self._cgroup_pids())
        for process in psutil.process_iter(["create_time"]):
            if process.pid not in pids and self._belongs(process):
                pids.add(process.pid)
        pids.discard(os.getpid())
        return [process for process in map(_live, sorted(pids)) if process is not None]

    def _belongs(self, process: psutil.Process) -> bool:
        if self.leader is not None:
            with contextlib.suppress(OSError):
                if self.leader in (os.getsid(process.pid), os.getpgid(process.pid)):
                    return True
        # A process older than the run cannot carry its marker; skipping it spares reading every environ.
        if (process.info.get("create_time") or 0.0) < self.started - 1.0:
            return False
        try:
            return process.environ().get(ENV_MARKER) == self.marker
        except psutil.Error:
            return False

    def end(self) -> None:
        """SIGKILL everything of the run until nothing is found, or END_DEADLINE_S passed.

        Safe to call from a watchdog thread and again afterwards.
        """
        with self._lock:
            deadline = time.monotonic() + END_DEADLINE_S
            while True:
                self._kill_cgroup()
                found = self.members()
                for process in found:
                    with contextlib.suppress(psutil.Error):
                        process.kill()
                if not found or time.monotonic() > deadline:
                    return
                time.sleep(0.01)

    def close(self) -> None:
        """End the run and remove its cgroups."""
        self.end()
        if self.limits is not None:
            self.limits.remove()
        self._remove_cgroup()

    def _cgroup_pids(self) -> list[int]:
        limited = self.limits.pids() if self.limits is not None else []
        if self.cgroup is None:
            return limited
        try:
            return [int(line) for line in (self.cgroup / "cgroup.procs").read_text().split()] + limited
        except (OSError, ValueError):
            return limited

    def _kill_cgroup(self) -> None:
        if self.cgroup is None:
            return
        kill = self.cgroup / "cgroup.kill"
        with contextlib.suppress(OSError):
            if kill.exists():
                kill.write_text("1")

    def _close_procs_fd(self) -> None:
        fd, self._procs_fd = self._procs_fd, None
        if fd is not None:
            os.close(fd)

    def _remove_cgroup(self) -> None:
        """rmdir succeeds once the last member has exited; killed members take a moment to go."""
        self._close_procs_fd()
        cgroup, self.cgroup = self.cgroup, None
        if cgroup is None:
            return
        deadline = time.monotonic() + END_DEADLINE_S
        while True:
            try:
                cgroup.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)


def _live(pid: int) -> psutil.Process | None:
    """The process, unless it is gone or a zombie (dead, waiting for a parent that may never reap it)."""
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except psutil.Error:
        return None


def _open_for_writing(path: Path) -> int | None:
    try:
        return os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return None


def _make_cgroup(name: str) -> Path | None:
    """A fresh cgroup v2 below our own, or None where this process may not make one."""
    parent = _own_cgroup_dir()
    if parent is None:
        return None
    remove_stale(parent)
    cgroup = parent / name
    try:
        cgroup.mkdir()
    except OSError:
        return None
    return cgroup


def _own_cgroup_dir() -> Path | None:
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    mount = next((line.split()[1] for line in mounts if len(line.split()) > 2 and line.split()[2] == "cgroup2"), None)
    own = next((line[3:] for line in memberships if line.startswith("0::")), None)
    if mount is None or own is None:
        return None
    directory = Path(mount) / own.lstrip("/")
    return directory if directory.is_dir() else None
