"""Benchmarks on an Android device reached over ADB (adb-shell; TCP, or USB with libusb)."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shlex
import time
from pathlib import Path
from typing import Any

from aipep_core.errors import DeviceError, RunFailure, UserError
from aipep_core.run_constraints import RunConstraints
from platforms.affinity import with_affinity
from platforms.android import cpu_frequency
from platforms.android.adb_connection import AdbConnection, DeviceLost
from platforms.android.android_dir_check import check_problem, check_script
from platforms.android.device_facts import DESCRIBE_SCRIPT, HEALTH_SCRIPT, CpuFacts, DeviceFacts, parse_facts
from platforms.android.elf_abi import abi_mismatch
from platforms.android.remote_command import RunFiles, parse_status, read_bounded_stdout, run_script
from platforms.base import DeviceDescription, Platform, PlatformOption, ProcessResult
from platforms.device_lock import DEFAULT_TIMEOUT_S, DeviceLock
from platforms.registry import register_platform

DEFAULT_ANDROID_DIR = "/data/local/tmp/aipep"
DEFAULT_REBOOT_TIMEOUT_S = 300.0
# Beyond a run's own timeout, how long the host waits for the device's watchdog to report back.
RUN_GRACE_S = 30.0
HEALTH_POLL_S = 5.0
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@register_platform
class AndroidPlatform(Platform):
    name = "android"
    # adb-shell holds the connection's socket while one shell command waits for output, so a
    # second command cannot even start: an arm waiting for its partner's turn would wait forever.
    why_not_at_once = "one ADB connection runs one shell command at a time"
    options = (
        PlatformOption("android_dir", str, "working directory on Android devices (absolute)", DEFAULT_ANDROID_DIR),
        PlatformOption("adb_key_dir", str, "directory holding this host's ADB key pair (made when missing)"),
        PlatformOption(
            "set_freq",
            str,
            "pin every core's frequency on a rooted device, restored at the end",
            None,
            cpu_frequency.CHOICES,
        ),
        PlatformOption("reboot", bool, "reboot the device before benchmarking on it", False),
        PlatformOption(
            "reboot_timeout", float, "seconds a rebooted device may take to come back", DEFAULT_REBOOT_TIMEOUT_S
        ),
        PlatformOption("lock_timeout", float, "seconds to wait for a device another harness holds", DEFAULT_TIMEOUT_S),
    )

    def __init__(
        self,
        device: str | None = None,
        timeout: float | None = 600.0,
        android_dir: str = DEFAULT_ANDROID_DIR,
        adb_key_dir: str | None = None,
        set_freq: str | None = None,
        reboot: bool = False,
        reboot_timeout: float = DEFAULT_REBOOT_TIMEOUT_S,
        lock_timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if not device:
            raise UserError("--devices: the android platform needs a device: a USB serial or host:port")
        android_dir = android_dir or DEFAULT_ANDROID_DIR
        if not android_dir.startswith("/"):
            raise UserError(f"--android_dir: expected an absolute path on the device, got {android_dir!r}")
        if set_freq is not None and set_freq not in cpu_frequency.CHOICES:
            raise UserError(f"--set_freq: expected one of {', '.join(cpu_frequency.CHOICES)}, got {set_freq!r}")
        self.device = device
        self.android_dir = android_dir.rstrip("/")
        self.timeout = float(timeout or 600.0)
        self.set_freq = set_freq
        self.reboot_requested = reboot
        self.reboot_timeout = reboot_timeout
        self._lock = DeviceLock(device, lock_timeout).acquire()
        self._adb = AdbConnection(device, adb_key_dir)
        self._abis: list[str] | None = None
        self._runs = 0
        self._restore: list[cpu_frequency.FrequencySetting] = []
        self._restore_cpus: list[CpuFacts] = []
        self._closed = False

    # Connection and health

    def prepare(self) -> None:
        if self.reboot_requested:
            self.reboot()
        problem = check_problem(self._adb.shell(check_script(self.android_dir)))
        if problem:
            raise DeviceError(f"--android_dir: {self.android_dir}: android device {self.device} {problem}")
        if self.set_freq:
            self._pin_frequency(self.set_freq)

    def facts(self) -> DeviceFacts:
        return parse_facts(self._adb.shell(DESCRIBE_SCRIPT))

    def describe(self) -> DeviceDescription:
        details = self.facts().as_details()
        details["android_dir"] = self.android_dir
        if self.set_freq:
            details["set_freq"] = self.set_freq
        return DeviceDescription(platform=self.name, identifier=self.device, details=details)

    def health(self) -> dict[str, Any]:
        return parse_facts(self._adb.shell(HEALTH_SCRIPT)).health()

    def wait_healthy(
        self, max_temperature_c: float | None = None, min_battery_pct: float | None = None, timeout_s: float = 300.0
    ) -> bool:
        """Wait until the device is cool and charged enough; False when it is not within timeout_s.

        A reading the device does not offer counts as healthy: many phones hide
        their thermal zones, and a round should not be skipped for that.
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

    def reboot(self) -> None:
        """Reboot and wait until Android says it has finished booting."""
        self._adb.reboot()
        deadline = time.monotonic() + self.reboot_timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(UserError, DeviceLost):
                if self._adb.shell("getprop sys.boot_completed", timeout_s=10.0).strip() == "1":
                    return
            time.sleep(1.0)
        raise DeviceLost(
            f"android device {self.device}: did not come back within {self.reboot_timeout:.0f} s of a reboot"
        )

    def _pin_frequency(self, choice: str) -> None:
        cpus = self.facts().cpus
        available = cpu_frequency.parse_available(self._adb.shell(cpu_frequency.available_script(cpus)))
        settings = cpu_frequency.pinned(cpus, choice, available)
        restore = cpu_frequency.current(cpus)
        cpu_frequency.apply(self._adb.shell, cpu_frequency.write_script(settings, cpus), self.device)
        self._restore, self._restore_cpus = restore, cpus

    # Files

    def abis(self) -> list[str]:
        if self._abis is None:
            text = self._adb.shell("getprop ro.product.cpu.abilist; getprop ro.product.cpu.abi")
            self._abis = [abi for line in text.splitlines() for abi in line.strip().split(",") if abi]
        return self._abis

    def push(self, local: Path) -> str:
        path = Path(local)
        if not path.is_file():
            raise UserError(f"{path}: file to run with does not exist")
        problem = abi_mismatch(path, self.abis())
        if problem:
            raise DeviceError(f"{path}: {problem} (android device {self.device})")
        folder = hashlib.md5(str(path.resolve()).encode()).hexdigest()[:12]
        remote = f"{self.android_dir}/files/{folder}/{path.name}"
        if not self._same_on_device(path, remote):
            self._adb.push(path, remote, timeout_s=self.timeout)
        return remote

    def _same_on_device(self, local: Path, remote: str) -> bool:
        """Size first (cheap), then md5 on the device: a model is pushed again only if it changed."""
        if self._adb.stat_size(remote) != local.stat().st_size:
            return False
        answer = self._adb.shell(f"md5sum {shlex.quote(remote)} 2> /dev/null").split()
        return bool(answer) and answer[0] == _md5(local)

    def pull(self, remote: str, local: Path) -> None:
        Path(local).write_bytes(self._adb.pull_bytes(remote, timeout_s=self.timeout))

    def work_dir(self, name: str) -> str:
        self._runs += 1
        remote = f"{self.android_dir}/work/{_SAFE_NAME.sub('_', name)}-{self._runs}"
        self._adb.shell(f"rm -rf {shlex.quote(remote)} && mkdir -p {shlex.quote(remote)}")
        return remote

    # Running

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
        self.refuse_constraints(constraints)
        argv = [str(arg) for arg in argv]
        command = with_affinity(argv, platform_args)
        timeout = float(timeout or self.timeout)
        self._runs += 1
        files = RunFiles(f"{self.android_dir}/runs/{self._runs}")
        try:
            script = run_script(command, env, cwd or self.android_dir, timeout, files)
        except ValueError as exc:
            raise UserError(f"env: {exc}") from None
        started = time.time()
        clock = time.perf_counter()
        try:
            shell_output = self._adb.shell(script, timeout_s=timeout + RUN_GRACE_S, doing=f"running {argv[0]}")
        except DeviceLost:
            self._kill_leftover(files)
            raise
        stdout = read_bounded_stdout(shell_output, files.marker)
        wall = time.perf_counter() - clock
        stderr = self._pull_text(files.stderr)
        status_text = self._pull_text(files.status)
        try:
            status = parse_status(status_text)
        except ValueError:
            return ProcessResult(tuple(argv), 125, stdout.text, stderr, wall, started_at=started)
        return ProcessResult(
            argv=tuple(argv),
            returncode=status.returncode,
            stdout=stdout.text,
            stderr=stderr,
            wall_seconds=status.wall_seconds if status.wall_seconds is not None else wall,
            cpu_seconds=status.cpu_seconds,
            timed_out=status.timed_out,
            started_at=started,
            load_before=status.load_before,
            load_after=status.load_after,
            parse_text=stdout.parse_text,
            usage=status.usage,
        )

    def _pull_text(self, remote: str) -> str:
        try:
            return self._adb.pull_bytes(remote, timeout_s=RUN_GRACE_S).decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _kill_leftover(self, files: RunFiles) -> None:
        """Best effort: the device may be back (a dropped Wi-Fi link) with the program still running."""
        with contextlib.suppress(UserError, RunFailure):
            self._adb.shell(f"kill -9 -$(cat {shlex.quote(files.pid)}) 2> /dev/null", timeout_s=5.0)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with contextlib.suppress(UserError, RunFailure):
                if self._restore:
                    script = cpu_frequency.write_script(self._restore, self._restore_cpus)
                    cpu_frequency.apply(self._adb.shell, script, self.device)
                    self._restore = []
                dirs = " ".join(shlex.quote(f"{self.android_dir}/{name}") for name in ("runs", "work"))
                self._adb.shell(f"rm -rf {dirs}", timeout_s=30.0)
        finally:
            self._adb.close()
            self._lock.release()


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
