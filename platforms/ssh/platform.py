"""Benchmarks on a Linux board reached over SSH: files over SFTP, processes through the remote shell."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import secrets
import shlex
import time
from pathlib import Path
from typing import Any

import paramiko

from aipep_core.errors import UserError
from aipep_core.run_constraints import RunConstraints
from platforms.affinity import parse_cpu_list, with_affinity
from platforms.base import DeviceDescription, Platform, PlatformOption, ProcessResult
from platforms.bounded_output import MEASUREMENT_PREFIXES, BoundedCapture
from platforms.cgroup_limits import check_fits_machine, out_of_memory_line
from platforms.device_lock import DEFAULT_TIMEOUT_S, DeviceLock
from platforms.linux_description import (
    DEFAULT_TEMPERATURE_FILES,
    description_script,
    health_script,
    parse_description,
    parse_health,
)
from platforms.registry import register_platform
from platforms.ssh.address import parse_address
from platforms.ssh.connection import DeviceLostError, SshConnection, connect, exit_status
from platforms.ssh.file_sync import make_dirs, pull_file, push_file
from platforms.ssh.host_keys import default_known_hosts
from platforms.ssh.remote_cgroups import read_cgroup_dirs, read_refusal, remove_after_kill_command
from platforms.ssh.remote_command import Reported, kill_tree_command, read_report, wrap

DEFAULT_REMOTE_DIR = "/tmp/aipep"
DEFAULT_CONNECT_TIMEOUT_S = 10.0
HEALTH_POLL_S = 5.0


@register_platform
class SshPlatform(Platform):
    """A Linux board; `timeout` is a benchmark process's default limit, `connect_timeout` every network wait's."""

    name = "ssh"
    options = (
        PlatformOption("ssh_identity", str, "private key file for SSH devices"),
        PlatformOption("ssh_known_hosts", str, "known_hosts file to check SSH host keys against"),
        PlatformOption("ssh_trust_on_first_use", bool, "accept and remember an SSH host key never seen before", False),
        PlatformOption("remote_dir", str, "working directory on SSH boards (absolute)", DEFAULT_REMOTE_DIR),
        PlatformOption(
            "connect_timeout", float, "seconds every network wait of SSH may take", DEFAULT_CONNECT_TIMEOUT_S
        ),
        PlatformOption("lock_timeout", float, "seconds to wait for a device another harness holds", DEFAULT_TIMEOUT_S),
        PlatformOption(
            "temperature_files",
            list,
            "comma list of file patterns on the board to read temperatures from",
            list(DEFAULT_TEMPERATURE_FILES),
        ),
    )

    def __init__(
        self,
        device: str | None = None,
        timeout: float | None = 600.0,
        ssh_identity: str | Path | None = None,
        ssh_known_hosts: str | Path | None = None,
        ssh_trust_on_first_use: bool = False,
        remote_dir: str = DEFAULT_REMOTE_DIR,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
        lock_timeout: float = DEFAULT_TIMEOUT_S,
        temperature_files: tuple[str, ...] | list[str] = DEFAULT_TEMPERATURE_FILES,
    ) -> None:
        remote_dir = remote_dir or DEFAULT_REMOTE_DIR
        if not remote_dir.startswith("/"):
            raise UserError(f"remote_dir: expected an absolute path on the board, got {remote_dir!r}")
        self.address = parse_address(device)
        self.identity = Path(ssh_identity).expanduser() if ssh_identity else None
        self.known_hosts = Path(ssh_known_hosts).expanduser() if ssh_known_hosts else default_known_hosts()
        self.trust_on_first_use = bool(ssh_trust_on_first_use)
        self.remote_dir = remote_dir.rstrip("/")
        self.timeout = float(timeout or 600.0)
        self.connect_timeout = float(connect_timeout)
        self.temperature_files = tuple(temperature_files)
        self._session_dir = f"{self.remote_dir}/work/{secrets.token_hex(6)}"
        self._work_dirs = itertools.count()
        self._made_dirs: set[str] = set()
        self._pending_dirs: list[str] = []
        self._connection: SshConnection | None = None
        self._board_cores: int | None = None
        self._lock = DeviceLock(f"{self.address.host}:{self.address.port}", lock_timeout).acquire()

    # Connection and health

    def connection(self) -> SshConnection:
        if self._connection is None:
            self._connection = connect(
                self.address, self.identity, self.known_hosts, self.trust_on_first_use, self.connect_timeout
            )
        return self._connection

    def prepare(self) -> None:
        self._make_dirs(self._session_dir)

    def describe(self) -> DeviceDescription:
        output = self.connection().execute(description_script(self.temperature_files))
        details = parse_description(output.stdout.decode(errors="replace"))
        details["remote_dir"] = self.remote_dir or "/"
        return DeviceDescription(platform=self.name, identifier=str(self.address), details=details)

    def cpu_ids(self) -> list[int] | None:
        """The CPUs a process started over SSH may use, as the board's kernel lists them."""
        output = self.connection().execute("grep Cpus_allowed_list /proc/self/status")
        return parse_cpu_list(output.stdout.decode(errors="replace").partition(":")[2])

    def health(self) -> dict[str, float | None]:
        output = self.connection().execute(health_script(self.temperature_files))
        return parse_health(output.stdout.decode(errors="replace"))

    def wait_healthy(
        self, max_temperature_c: float | None = None, min_battery_pct: float | None = None, timeout_s: float = 300.0
    ) -> bool:
        """Wait until the board is cool (and charged, if it has a battery); False when not within timeout_s.

        A sensor the board does not have counts as healthy, as on Android, so a
        board without thermal zones is never skipped for that.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            health = self.health()
            temperature, battery = health["temperature_c"], health["battery_pct"]
            cool = max_temperature_c is None or temperature is None or temperature <= max_temperature_c
            charged = min_battery_pct is None or battery is None or battery >= min_battery_pct
            if cool and charged:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(HEALTH_POLL_S, remaining))

    # Files

    def push(self, local: Path) -> str:
        """Copy to a path named after the local directory, so two programs called `bench` never collide."""
        path = Path(local)
        if not path.is_file():
            raise UserError(f"{path}: file to run with does not exist")
        origin = hashlib.sha256(str(path.resolve().parent).encode()).hexdigest()[:16]
        remote_dir = f"{self.remote_dir}/files/{origin}"
        self._make_dirs(remote_dir)
        remote = f"{remote_dir}/{path.name}"
        push_file(self.connection(), path, remote)
        return remote

    def pull(self, remote: str, local: Path) -> None:
        pull_file(self.connection(), remote, Path(local))

    def work_dir(self, name: str) -> str:
        """The directory is made by the next run's wrapper: one trip through sshd less per process."""
        safe = "".join(char if char.isalnum() or char in "-_." else "_" for char in name)
        path = f"{self._session_dir}/{safe}-{next(self._work_dirs)}"
        self._pending_dirs.append(path)
        return path

    # Processes

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
        if constraints is not None and constraints.in_docker:
            raise UserError(
                f'constraints.runner: "docker" runs containers on this machine only (--platform host); '
                f"board {self.address} takes the default cgroups runner"
            )
        if constraints is not None:
            check_fits_machine(constraints, self._cores(), f"board {self.address}")
        argv = with_affinity(list(argv), platform_args)
        # A directory stays pending until a run whose wrapper made it has ended: a duet round runs two
        # processes at once, and the other arm's directory must exist before its own program starts.
        making = tuple(self._pending_dirs)
        wrapped = wrap(argv, env, cwd, make_dirs=making, constraints=constraints)
        connection = self.connection()
        limit = self.timeout if timeout is None else timeout
        stdout, stderr = BoundedCapture(MEASUREMENT_PREFIXES), BoundedCapture()
        started = time.time()
        clock = time.perf_counter()
        channel = connection.start(wrapped.script)
        try:
            finished = connection.read_until_exit(channel, stdout, stderr, time.monotonic() + limit)
            wall = time.perf_counter() - clock
            if not finished:
                self._kill(channel, wrapped.marker, stdout, stderr)
        except KeyboardInterrupt:
            self._kill(channel, wrapped.marker, stdout, stderr)
            raise
        finally:
            channel.close()
            self._pending_dirs[:] = [path for path in self._pending_dirs if path not in making]
        refusal = read_refusal(wrapped.marker, stderr.text())
        if refusal is not None:
            raise UserError(f"{refusal} (board {self.address})")
        report = read_report(wrapped.marker, stderr.text())
        program_stderr = report.stderr
        if finished and not report.finished:
            program_stderr += "\naipep: the remote shell ended without reporting an exit status (killed by a signal?)"
        return ProcessResult(
            argv=tuple(argv),
            returncode=report.status if report.finished else (exit_status(channel) if finished else None),
            stdout=stdout.text(),
            stderr=program_stderr,
            wall_seconds=report.wall_seconds if report.wall_seconds is not None else wall,
            cpu_seconds=report.cpu_seconds,
            timed_out=not finished,
            started_at=started,
            load_before=report.load_before,
            load_after=report.load_after,
            parse_text=stdout.result().parse_text,
            usage=report.usage,
            out_of_memory=_out_of_memory(constraints, report),
        )

    def _cores(self) -> int:
        """The board's CPUs, asked once: a quota is checked against the board, not the harness's machine."""
        if self._board_cores is None:
            self._board_cores = int(self.describe().details.get("logical_cores") or 1)
        return self._board_cores

    def _kill(self, channel: paramiko.Channel, marker: str, stdout: BoundedCapture, stderr: BoundedCapture) -> None:
        """Kill the remote tree over a second channel, then collect what the first one still carries."""
        connection = self.connection()
        deadline = time.monotonic() + self.connect_timeout
        pid = read_report(marker, stderr.text()).pid
        while pid is None and time.monotonic() < deadline:
            connection.read_until_exit(channel, stdout, stderr, min(deadline, time.monotonic() + 0.1))
            pid = read_report(marker, stderr.text()).pid
        if pid is None:
            raise DeviceLostError(f"ssh device {self.address}: the timed-out command never reported its pid")
        connection.execute(kill_tree_command(pid), timeout=self.connect_timeout)
        connection.read_until_exit(channel, stdout, stderr, time.monotonic() + self.connect_timeout)
        cgroups = read_cgroup_dirs(marker, stderr.text())
        if cgroups:
            connection.execute(remove_after_kill_command(cgroups), timeout=self.connect_timeout)

    def _make_dirs(self, remote_dir: str) -> None:
        if remote_dir not in self._made_dirs:
            make_dirs(self.connection(), remote_dir)
            self._made_dirs.add(remote_dir)

    def close(self) -> None:
        try:
            if self._connection is not None:
                with contextlib.suppress(DeviceLostError):
                    self._connection.execute(f"rm -rf -- {shlex.quote(self._session_dir)}")
                self._connection.close()
                self._connection = None
        finally:
            self._lock.release()


def _out_of_memory(constraints: RunConstraints | None, report: Reported) -> str | None:
    """The one line for a run the board's kernel ended for its memory limit, or None."""
    limits = report.limits
    if constraints is None or constraints.memory_mb is None or limits is None or not limits.out_of_memory_kills:
        return None
    peak = limits.peak_memory_bytes or (report.usage.peak_rss_bytes if report.usage is not None else None)
    return out_of_memory_line(constraints.memory_mb, peak)
