"""A benchmark process run inside a Docker container under a test's constraints (`"runner": "docker"`).

A model that ships in a container is best measured in one, with the limits the container
will have: the image is the user's, holding whatever runtime the program needs; aipep adds
only the limits (`--cpus`, `--cpuset-cpus`, `--memory` with no swap beyond it), no network,
the harness's own user, and the files: every absolute path the command names (the program,
the model files) is mounted read-only at the same path, the run's working directories
read-write. Nothing passes through a shell: the docker command is an argument list.

The container's cgroup is gone when it exits, with its counters. So it is started below a
parent cgroup of its own (`--cgroup-parent`, which the daemon creates in every hierarchy);
the kernel keeps CPU time and the memory high-water mark of a cgroup's children in the
cgroup itself, so the parent still tells them after the container is removed. Where the
parent cannot be found on this machine (a daemon elsewhere, or one that names cgroups
after systemd slices) those figures stay unknown rather than guessed. The container's run
time is the daemon's own record (State.StartedAt to FinishedAt), which leaves out the
seconds the daemon takes to start it; out-of-memory is its State.OOMKilled. Every call to
the docker command has a deadline, and a timed-out container is removed by force.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aipep_core.errors import UserError
from aipep_core.run_constraints import RunConstraints
from platforms.base import ProcessResult
from platforms.cgroup_limits import CGROUP_PREFIX, check_fits_machine, out_of_memory_line, remove_stale
from platforms.resource_usage import ResourceUsage

# Seconds any docker command but the run itself may take: a daemon that does not answer is one line, never a hang.
DOCKER_TIMEOUT_S = 30.0
HOW_TO_GET = "install Docker (Debian: apt-get install docker.io), start its daemon, or set DOCKER_HOST"


@dataclass(frozen=True)
class ContainerState:
    """What the daemon recorded about a container that ended."""

    exit_code: int | None
    oom_killed: bool
    wall_seconds: float | None


def run_in_container(
    argv: list[str],
    *,
    run_process: Callable[..., ProcessResult],
    constraints: RunConstraints,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
    writable: tuple[str, ...] = (),
) -> ProcessResult:
    """Run argv in a fresh container of `constraints.image`; `writable`: host directories it may write to.

    `run_process` is the host's (platforms/host.py), which runs the docker command with its
    output bounded and its timeout kept; passed in, as the host is what dispatches here."""
    docker = _docker_command()
    check_fits_machine(constraints, os.cpu_count() or 1)
    _check_daemon_and_image(docker, constraints.image or "")
    name = CGROUP_PREFIX + secrets.token_hex(12)
    _remove_stale_parents()
    command = [
        docker,
        "run",
        "--name",
        name,
        "--network",
        "none",
        "--user",
        f"{os.getuid()}:{os.getgid()}",
        "--cgroup-parent",
        f"/{name}",
        *_limit_options(constraints),
        *_mount_options(argv, cwd, writable),
        *(option for key, value in (env or {}).items() for option in ("--env", f"{key}={value}")),
        *(["--workdir", cwd] if cwd else []),
        "--",
        constraints.image or "",
        *argv,
    ]
    try:
        ran = run_process(command, timeout=timeout, sample_resources=False)
    finally:
        state = _inspect(docker, name)
        _docker(docker, "rm", "--force", name)
    usage = _usage_of_parent(name, state.wall_seconds or ran.wall_seconds)
    _remove_parent(name)
    out_of_memory = None
    if state.oom_killed and constraints.memory_mb is not None:
        out_of_memory = out_of_memory_line(constraints.memory_mb, usage.peak_rss_bytes)
    return ProcessResult(
        argv=tuple(argv),
        returncode=ran.returncode if state.exit_code is None or ran.timed_out else state.exit_code,
        stdout=ran.stdout,
        stderr=ran.stderr,
        wall_seconds=usage.wall_seconds or ran.wall_seconds,
        cpu_seconds=usage.cpu_seconds,
        timed_out=ran.timed_out,
        started_at=ran.started_at,
        load_before=ran.load_before,
        load_after=ran.load_after,
        parse_text=ran.parse_text,
        usage=usage,
        out_of_memory=out_of_memory,
    )


def _docker_command() -> str:
    found = shutil.which("docker")
    if found is None:
        raise UserError(f'constraints.runner: "docker" needs the docker command, which is not installed; {HOW_TO_GET}')
    return found


def _check_daemon_and_image(docker: str, image: str) -> None:
    done = _docker(docker, "version", "--format", "{{.Server.Version}}")
    if done is None or done.returncode != 0:
        reason = _first_line(done.stderr) if done is not None else f"no answer within {DOCKER_TIMEOUT_S:g} s"
        raise UserError(f'constraints.runner: "docker" cannot reach the Docker daemon ({reason}); {HOW_TO_GET}')
    done = _docker(docker, "image", "inspect", "--format", "{{.Id}}", "--", image)
    if done is None or done.returncode != 0:
        raise UserError(
            f"constraints.image: the Docker image {image!r} is not on this machine; "
            "pull, build or import it first (aipep never pulls)"
        )


def _limit_options(constraints: RunConstraints) -> list[str]:
    options = []
    if constraints.cpus is not None:
        options += ["--cpus", f"{constraints.cpus:g}"]
    if constraints.cpuset is not None:
        options += ["--cpuset-cpus", constraints.cpuset]
    if constraints.memory_mb is not None:
        options += ["--memory", f"{constraints.memory_mb}m", "--memory-swap", f"{constraints.memory_mb}m"]
    return options


def _mount_options(argv: list[str], cwd: str | None, writable: tuple[str, ...]) -> list[str]:
    """Each existing absolute path the command names (also as `--flag=/path`) read-only, `writable`
    and `cwd` read-write; a path inside a writable directory is reached through it."""
    writable_dirs = [path for path in (*writable, *([cwd] if cwd else [])) if Path(path).is_dir()]
    named = []
    for argument in argv:
        for candidate in (argument, argument.partition("=")[2]):
            if candidate.startswith("/") and os.path.exists(candidate):
                named.append(candidate)
    options: list[str] = []
    mounted: set[str] = set()
    for path in writable_dirs:
        if path not in mounted:
            options += ["--mount", _bind(path, read_only=False)]
            mounted.add(path)
    for path in named:
        inside_writable = any(Path(path).is_relative_to(directory) for directory in writable_dirs)
        if path not in mounted and not inside_writable:
            options += ["--mount", _bind(path, read_only=True)]
            mounted.add(path)
    return options


def _bind(path: str, read_only: bool) -> str:
    """A --mount value; docker reads it as one CSV record, so a path with a comma or quote is quoted."""
    fields = ["type=bind", f"source={path}", f"target={path}", *(["readonly"] if read_only else [])]
    line = io.StringIO()
    csv.writer(line, lineterminator="").writerow(fields)
    return line.getvalue()


def _inspect(docker: str, name: str) -> ContainerState:
    done = _docker(docker, "inspect", "--format", "{{json .State}}", "--", name)
    try:
        state = json.loads(done.stdout) if done is not None and done.returncode == 0 else {}
    except json.JSONDecodeError:
        state = {}
    started, finished = _timestamp(state.get("StartedAt")), _timestamp(state.get("FinishedAt"))
    wall = finished - started if started is not None and finished is not None and finished >= started else None
    exit_code = state.get("ExitCode")
    return ContainerState(
        exit_code=exit_code if isinstance(exit_code, int) else None,
        oom_killed=bool(state.get("OOMKilled")),
        wall_seconds=wall,
    )


def _timestamp(text: object) -> float | None:
    """The daemon's RFC 3339 times carry nanoseconds, more digits than datetime reads: cut to microseconds."""
    if not isinstance(text, str) or text.startswith("0001-"):
        return None
    head, _, fraction = text.rstrip("Z").partition(".")
    try:
        moment = datetime.fromisoformat(head + "+00:00")
    except ValueError:
        return None
    digits = "".join(char for char in fraction if char.isdigit())[:9]
    return moment.timestamp() + (int(digits) / 10 ** len(digits) if digits else 0.0)


def _usage_of_parent(name: str, wall_seconds: float | None) -> ResourceUsage:
    """CPU time and memory high-water mark of the container, from the parent cgroup it ran below."""
    cpu_readings: list[float | None] = []
    peak_readings: list[int | None] = []
    for mount, controllers in _cgroup_mounts():
        directory = Path(mount) / name
        if not directory.is_dir():
            continue
        if controllers is None:
            # On a host that also mounts v1 hierarchies the v2 one holds no controllers: read last.
            cpu_readings.append(_usec_field(directory / "cpu.stat", "usage_usec"))
            peak_readings.append(_integer(directory / "memory.peak"))
        elif "cpuacct" in controllers:
            nanoseconds = _integer(directory / "cpuacct.usage")
            cpu_readings.insert(0, None if nanoseconds is None else nanoseconds / 1e9)
        elif "memory" in controllers:
            peak_readings.insert(0, _integer(directory / "memory.max_usage_in_bytes"))
    cpu_seconds = next((value for value in cpu_readings if value is not None), None)
    peak = next((value for value in peak_readings if value is not None), None)
    return ResourceUsage(peak_rss_bytes=peak, cpu_seconds=cpu_seconds, wall_seconds=wall_seconds)


def _remove_parent(name: str) -> None:
    for mount, _ in _cgroup_mounts():
        with contextlib.suppress(OSError):
            (Path(mount) / name).rmdir()


def _remove_stale_parents() -> None:
    """Parents a run killed with the harness left behind, in every hierarchy the daemon created them in."""
    for mount, _ in _cgroup_mounts():
        remove_stale(Path(mount))


def _cgroup_mounts() -> list[tuple[str, set[str] | None]]:
    """(mount point, v1 controllers) of every cgroup hierarchy here; None for the v2 one."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    found: list[tuple[str, set[str] | None]] = []
    for line in lines:
        parts = line.split()
        if len(parts) > 3 and parts[2] == "cgroup2":
            found.append((parts[1], None))
        elif len(parts) > 3 and parts[2] == "cgroup":
            found.append((parts[1], set(parts[3].split(","))))
    return found


def _docker(docker: str, *arguments: str) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(
            [docker, *arguments], capture_output=True, text=True, timeout=DOCKER_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return None


def _integer(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _usec_field(path: Path, name: str) -> float | None:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value) / 1e6
    return None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no message")
