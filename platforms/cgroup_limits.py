"""Enforcing a test's constraints (CPU quota, CPU set, memory) on the host with cgroups.

The run's own cgroup (platforms/process_tracking.py) is where every process of the run
is born, so its limits hold for the whole tree from the first instruction. cgroup v2 is
used where the needed controllers can be enabled below our own cgroup; otherwise the v1
hierarchies (one mount per controller, still the default on many hosts) get a cgroup of
their own per controller. Where neither works the run is refused with one line saying
what is missing: a limit that is silently not applied would report a constrained
latency that never was.

Cgroups left behind by a harness that crashed are removed by the next one
(`remove_stale`): an empty aipep cgroup older than STALE_AFTER_S belongs to nobody.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from aipep_core.errors import UserError
from aipep_core.run_constraints import RunConstraints

CGROUP_PREFIX = "aipep-"
CPU_PERIOD_US = 100_000
STALE_AFTER_S = 60.0
_MB = 1024 * 1024

HOW_TO_GET = (
    "run as root, or inside a cgroup delegated to you (for example `systemd-run --user --scope -p Delegate=yes "
    "aipep ...`), on a host with the cpu, cpuset and memory controllers"
)


@dataclass
class CgroupLimits:
    """The cgroups that hold one run's limits, and what the kernel says about them afterwards."""

    constraints: RunConstraints
    version: int
    directories: list[Path]
    memory_directory: Path | None = None
    _procs_fds: list[int] = field(default_factory=list)

    def open_for_joining(self) -> None:
        """Opened before the fork, so the child only writes to open fds (safe after fork in a threaded parent)."""
        self._procs_fds = [os.open(d / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for d in self.directories]

    def join_from_child(self) -> None:
        for fd in self._procs_fds:
            with contextlib.suppress(OSError):
                os.write(fd, b"0")

    def close_fds(self) -> None:
        fds, self._procs_fds = self._procs_fds, []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def make_member(self, pid: int) -> None:
        """Move `pid` in from the parent too: a no-op when the child joined before it executed, as it should."""
        for directory in self.directories:
            with contextlib.suppress(OSError):
                (directory / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        found: set[int] = set()
        for directory in self.directories:
            with contextlib.suppress(OSError, ValueError):
                found.update(int(line) for line in (directory / "cgroup.procs").read_text().split())
        return sorted(found)

    def out_of_memory_kills(self) -> int:
        """How many processes the kernel killed for this run's memory limit."""
        if self.memory_directory is None:
            return 0
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _field(_read(self.memory_directory / name), "oom_kill") or 0

    def peak_memory_bytes(self) -> int | None:
        if self.memory_directory is None:
            return None
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        text = _read(self.memory_directory / name)
        return int(text) if text and text.strip().isdigit() else None

    def remove(self, deadline_s: float = 5.0) -> None:
        """rmdir succeeds once the last member has exited; killed members take a moment to go."""
        self.close_fds()
        deadline = time.monotonic() + deadline_s
        for directory in self.directories:
            while True:
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)


def check_fits_machine(constraints: RunConstraints, cores: int, machine: str = "this machine") -> None:
    """A quota beyond the machine's cores cannot be what the user meant."""
    if constraints.cpus is not None and constraints.cpus > cores:
        raise UserError(f"constraints.cpus: expected at most {cores} (the CPUs of {machine}), got {constraints.cpus}")


def out_of_memory_line(memory_mb: int, peak_bytes: int | None) -> str:
    """The one line of a run the kernel ended for its memory limit, the same on every platform."""
    peak = (peak_bytes or 0) / _MB
    return f"killed, out of memory: limit {memory_mb} MB (constraints.memory_mb), peak seen {peak:.1f} MB"


def apply_limits(constraints: RunConstraints, name: str, v2_cgroup: Path | None) -> CgroupLimits:
    """Put the limits on the run's v2 cgroup `v2_cgroup` when its controllers allow, else on fresh
    v1 cgroups called `name`; a UserError with one line when neither can enforce them."""
    check_fits_machine(constraints, os.cpu_count() or 1)
    needed = needed_controllers(constraints)
    if v2_cgroup is not None and not _enable_v2(v2_cgroup, needed):
        limits = CgroupLimits(constraints, 2, [v2_cgroup], v2_cgroup if constraints.memory_mb else None)
        _write_v2(limits, v2_cgroup)
        return limits
    v1_dirs = _v1_own_dirs()
    v1_missing = [controller for controller in needed if controller not in v1_dirs]
    if v1_missing:
        raise UserError(
            f"constraints: cannot enforce them here: the cgroup controller(s) {', '.join(v1_missing)} "
            f"cannot be used by this process (neither cgroup v2 nor v1); {HOW_TO_GET}"
        )
    limits = CgroupLimits(constraints, 1, [])
    for controller in needed:
        parent = v1_dirs[controller]
        remove_stale(parent)
        directory = parent / name
        try:
            directory.mkdir()
        except OSError as error:
            limits.remove()
            raise UserError(
                f"constraints: cannot create a {controller} cgroup in {parent} ({error.strerror}); {HOW_TO_GET}"
            ) from None
        limits.directories.append(directory)
        if controller == "memory":
            limits.memory_directory = directory
        try:
            _write_v1(controller, constraints, directory, parent)
        except UserError:
            limits.remove()
            raise
    return limits


def needed_controllers(constraints: RunConstraints) -> list[str]:
    return [
        controller
        for controller, value in (
            ("cpu", constraints.cpus),
            ("cpuset", constraints.cpuset),
            ("memory", constraints.memory_mb),
        )
        if value is not None
    ]


def remove_stale(parent: Path) -> None:
    """Remove empty aipep cgroups a crashed harness left in `parent`; young ones may be a live run's."""
    with contextlib.suppress(OSError):
        for directory in parent.iterdir():
            if not directory.name.startswith(CGROUP_PREFIX) or not directory.is_dir():
                continue
            with contextlib.suppress(OSError):
                if time.time() - directory.stat().st_mtime > STALE_AFTER_S:
                    directory.rmdir()


def _enable_v2(cgroup: Path, needed: list[str]) -> list[str]:
    """The controllers still missing after trying to enable them for the children of `cgroup`'s parent."""
    parent = cgroup.parent
    available = (_read(parent / "cgroup.controllers") or "").split()
    missing = [controller for controller in needed if controller not in available]
    if missing:
        return missing
    enabled = (_read(parent / "cgroup.subtree_control") or "").split()
    for controller in needed:
        if controller not in enabled:
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text(f"+{controller}")
    enabled = (_read(cgroup / "cgroup.controllers") or "").split()
    return [controller for controller in needed if controller not in enabled]


def _write_v2(limits: CgroupLimits, cgroup: Path) -> None:
    constraints = limits.constraints
    if constraints.cpus is not None:
        _write(cgroup / "cpu.max", f"{round(constraints.cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}", "cpus")
    if constraints.cpuset is not None:
        _write(cgroup / "cpuset.cpus", constraints.cpuset, "cpuset")
    if constraints.memory_mb is not None:
        _write(cgroup / "memory.max", str(constraints.memory_mb * _MB), "memory_mb")
        with contextlib.suppress(OSError):
            (cgroup / "memory.swap.max").write_text("0")


def _write_v1(controller: str, constraints: RunConstraints, directory: Path, parent: Path) -> None:
    if controller == "cpu":
        _write(directory / "cpu.cfs_period_us", str(CPU_PERIOD_US), "cpus")
        _write(directory / "cpu.cfs_quota_us", str(round(constraints.cpus * CPU_PERIOD_US)), "cpus")
    elif controller == "cpuset":
        _write(directory / "cpuset.mems", _read(parent / "cpuset.mems") or "0", "cpuset")
        _write(directory / "cpuset.cpus", constraints.cpuset, "cpuset")
    elif controller == "memory":
        _write(directory / "memory.limit_in_bytes", str(constraints.memory_mb * _MB), "memory_mb")
        with contextlib.suppress(OSError):
            (directory / "memory.memsw.limit_in_bytes").write_text(str(constraints.memory_mb * _MB))
        with contextlib.suppress(OSError):
            (directory / "memory.swappiness").write_text("0")


def _write(path: Path, value: str, field_name: str) -> None:
    try:
        path.write_text(value)
    except OSError as error:
        raise UserError(
            f"constraints.{field_name}: the kernel refused {value!r} for {path.name} ({error.strerror})"
        ) from None


def _v1_own_dirs() -> dict[str, Path]:
    """controller -> our own cgroup directory in that controller's v1 hierarchy, where it is mounted."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        memberships = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    mount_points: dict[str, str] = {}
    for line in mounts:
        parts = line.split()
        if len(parts) > 3 and parts[2] == "cgroup":
            for option in parts[3].split(","):
                mount_points.setdefault(option, parts[1])
    found: dict[str, Path] = {}
    for line in memberships:
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[1]:
            continue
        for controller in parts[1].split(","):
            if controller in mount_points:
                directory = Path(mount_points[controller]) / parts[2].lstrip("/")
                if directory.is_dir() and os.access(directory, os.W_OK):
                    found[controller] = directory
    return found


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _field(text: str | None, name: str) -> int | None:
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == name and parts[1].isdigit():
            return int(parts[1])
    return None
