"""Benchmarks on the machine the harness runs on."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from aipep_core.errors import UserError
from aipep_core.run_constraints import RunConstraints
from platforms.affinity import with_affinity
from platforms.base import DeviceDescription, Platform, ProcessResult
from platforms.bounded_output import MEASUREMENT_PREFIXES, BoundedCapture
from platforms.cgroup_limits import CgroupLimits, out_of_memory_line
from platforms.docker_runner import run_in_container
from platforms.pipe_reader import PipeReader
from platforms.process_tracking import TrackedRun
from platforms.registry import register_platform
from platforms.resource_sampler import TreeSampler
from platforms.resource_usage import ResourceUsage, read_proc_io


@register_platform
class HostPlatform(Platform):
    name = "host"

    def __init__(self, device: str | None = None, timeout: float | None = None) -> None:
        self.identifier = device or socket.gethostname()
        self.timeout = timeout
        self._work_root = Path(tempfile.mkdtemp(prefix="aipep-host-"))

    def describe(self) -> DeviceDescription:
        return DeviceDescription(platform=self.name, identifier=self.identifier, details=describe_linux_host())

    def push(self, local: Path) -> str:
        """Absolute, but never resolved: a virtualenv's `bin/python` is a symlink whose own
        location is what selects the virtualenv; its target is the bare base interpreter."""
        path = Path(local)
        if not path.exists():
            raise UserError(f"{path}: file to run with does not exist")
        return str(path.absolute())

    def pull(self, remote: str, local: Path) -> None:
        if Path(remote).resolve() != Path(local).resolve():
            shutil.copyfile(remote, local)

    def work_dir(self, name: str) -> str:
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self._work_root))
        return str(path)

    def run(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        platform_args: dict[str, Any] | None = None,
        constraints: RunConstraints | None = None,
    ) -> ProcessResult:
        argv = with_affinity(list(argv), platform_args, on_this_machine=True)
        if constraints is not None and constraints.in_docker:
            return run_in_container(
                argv,
                run_process=run_process,
                constraints=constraints,
                env=env,
                cwd=cwd,
                timeout=self.timeout if timeout is None else timeout,
                writable=(str(self._work_root),),
            )
        return run_process(
            argv, env=env, cwd=cwd, timeout=self.timeout if timeout is None else timeout, constraints=constraints
        )

    def cpu_ids(self) -> list[int]:
        """The CPUs this harness may use; its benchmark processes inherit the same set."""
        return sorted(os.sched_getaffinity(0))

    def close(self) -> None:
        shutil.rmtree(self._work_root, ignore_errors=True)


def run_process(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
    sample_resources: bool = True,
    constraints: RunConstraints | None = None,
) -> ProcessResult:
    """Run argv without a shell, in its own session; end everything it started, on timeout and on exit.

    The child is reaped with wait4 so its own CPU time (user + system) comes
    back with it; that is what lets a round be judged as disturbed or not. Its
    output is read while it runs into bounded captures (platforms/bounded_output.py),
    and what it left running is found and killed (platforms/process_tracking.py)
    before the pipes are read to their end, so an orphan holding them cannot block.

    Its resource use comes from a sampler while it runs (platforms/resource_sampler.py)
    and from the kernel's final accounting: the exited child is first waited for without
    being reaped, so its /proc/<pid>/io can still be read, then reaped for its rusage.
    """
    run = TrackedRun(constraints=constraints)
    full_env = {**os.environ, **(env or {}), **run.environment()}
    stdout, stderr = BoundedCapture(MEASUREMENT_PREFIXES), BoundedCapture()
    load_before = os.getloadavg()[0]
    started = time.time()
    clock = time.perf_counter()
    try:
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=run.join_before_exec,
        )
    except FileNotFoundError:
        run.close()
        raise UserError(f"program {argv[0]!r} not found") from None
    except PermissionError:
        run.close()
        raise UserError(f"program {argv[0]!r} is not executable") from None
    run.adopt(process.pid)
    sampler = TreeSampler(process.pid) if sample_resources else None
    reader = PipeReader([(process.stdout, stdout), (process.stderr, stderr)])
    timed_out = threading.Event()
    watchdog = None
    if timeout is not None:
        watchdog = threading.Timer(timeout, lambda: (timed_out.set(), run.end()))
        watchdog.start()
    try:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        wall = time.perf_counter() - clock
        io_text = _read_text(f"/proc/{process.pid}/io")
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if sampler is not None:
            sampler.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    resource_usage = _final_usage(usage, wall, io_text, sampler)
    out_of_memory = _out_of_memory(run.limits, resource_usage)
    run.close()
    reader.finish()
    out, err = stdout.result(), stderr.result()
    return ProcessResult(
        argv=tuple(argv),
        returncode=process.returncode,
        stdout=out.text,
        stderr=err.text,
        wall_seconds=wall,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        timed_out=timed_out.is_set(),
        started_at=started,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        parse_text=out.parse_text,
        usage=resource_usage,
        out_of_memory=out_of_memory,
    )


def _out_of_memory(limits: CgroupLimits | None, usage: ResourceUsage) -> str | None:
    """The one line for a run the kernel ended for its memory limit, or None."""
    if limits is None or limits.constraints.memory_mb is None or not limits.out_of_memory_kills():
        return None
    return out_of_memory_line(limits.constraints.memory_mb, limits.peak_memory_bytes() or usage.peak_rss_bytes)


def _final_usage(
    usage: os.struct_rusage, wall: float, io_text: str | None, sampler: TreeSampler | None
) -> ResourceUsage:
    """The kernel's accounting of time, switches and I/O; memory and threads only from the sampler
    (rusage's ru_maxrss would count the harness's memory the child had before it executed)."""
    read_bytes, write_bytes = read_proc_io(io_text or "")
    return ResourceUsage(
        peak_rss_bytes=sampler.peak_memory_bytes if sampler is not None else None,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        wall_seconds=wall,
        voluntary_switches=usage.ru_nvcsw,
        involuntary_switches=usage.ru_nivcsw,
        read_bytes=read_bytes,
        write_bytes=write_bytes,
        threads=(sampler.peak_threads or None) if sampler is not None else None,
    )


def describe_linux_host() -> dict[str, Any]:
    """Facts that explain a timing: CPU, frequency policy, load, versions."""
    details: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "kernel": platform.release(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "load_average": list(os.getloadavg()),
    }
    governor = _read_text("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    if governor:
        details["governor"] = governor
    frequency = psutil.cpu_freq()
    if frequency is not None:
        details["frequency_mhz"] = {"current": frequency.current, "min": frequency.min, "max": frequency.max}
    temperature = _temperature()
    if temperature is not None:
        details["temperature_c"] = temperature
    return details


def _cpu_model() -> str:
    for line in (_read_text("/proc/cpuinfo") or "").splitlines():
        if line.startswith(("model name", "Hardware", "Processor")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _temperature() -> float | None:
    try:
        sensors = psutil.sensors_temperatures()
    except (AttributeError, OSError):
        return None
    readings = [entry.current for entries in sensors.values() for entry in entries if entry.current]
    return max(readings) if readings else None


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None
