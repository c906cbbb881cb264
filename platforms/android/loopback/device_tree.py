"""The file system the loopback device shows: properties, /proc and /sys of a plausible phone.

It is written at start-up from the command-line options, so what `describe()`
reports about the loopback device is whatever the test asked for. /data and
/sdcard are left alone, so pushed files survive a restart.
"""

from __future__ import annotations

import platform
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

ABI_OF_MACHINE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64-v8a", "arm64": "arm64-v8a"}
GENERATED_ROOTS = ("proc", "sys", "system")
LITTLE_FREQUENCIES_KHZ = (300000, 576000, 1017600, 1420800, 1804800)
BIG_FREQUENCIES_KHZ = (710400, 1171200, 1670400, 2227200, 2841600)
GOVERNORS = ("schedutil", "performance", "powersave", "userspace")
# /proc files that only make sense live; the device shows the host's.
LIVE_PROC_FILES = ("loadavg", "meminfo", "uptime", "stat")


def host_abi() -> str:
    return ABI_OF_MACHINE.get(platform.machine().lower(), "x86_64")


@dataclass
class DeviceOptions:
    """What the loopback device pretends to be."""

    abis: tuple[str, ...] = field(default_factory=lambda: (host_abi(),))
    model: str = "AIPEP Loopback"
    android_release: str = "14"
    sdk: int = 34
    cores: int = 4
    battery_pct: int = 87
    temperature_c: float = 36.5
    serial: str = "loopback"

    def properties(self) -> dict[str, str]:
        return {
            "ro.product.model": self.model,
            "ro.product.manufacturer": "aipep",
            "ro.product.brand": "aipep",
            "ro.product.name": "loopback",
            "ro.product.device": "loopback",
            "ro.hardware": "loopback",
            "ro.board.platform": "loopback",
            "ro.soc.manufacturer": "aipep",
            "ro.soc.model": "Loopback SoC",
            "ro.build.version.release": self.android_release,
            "ro.build.version.sdk": str(self.sdk),
            "ro.product.cpu.abi": self.abis[0],
            "ro.product.cpu.abilist": ",".join(self.abis),
            "ro.serialno": self.serial,
            "ro.debuggable": "1",
            "sys.boot_completed": "1",
        }

    def banner(self) -> bytes:
        keys = ("ro.product.name", "ro.product.model", "ro.product.device")
        props = self.properties()
        fields = "".join(f"{key}={props[key]};" for key in keys)
        return f"device::{fields}features=shell_v2,cmd,stat_v2".encode()


def build_device_tree(root: Path, options: DeviceOptions) -> None:
    for name in GENERATED_ROOTS:
        shutil.rmtree(root / name, ignore_errors=True)
    for directory in ("data/local/tmp", "sdcard"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    _write_properties(root, options)
    _write_cpus(root, options)
    _write_thermal(root, options)
    _write_battery(root, options)
    _write_proc(root, options)


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _write_properties(root: Path, options: DeviceOptions) -> None:
    props = root / "system" / "build.prop"
    _write(props, "".join(f"{key}={value}\n" for key, value in options.properties().items()))
    script = f"""#!/bin/sh
# getprop [NAME [DEFAULT]], read from the loopback device's build.prop
props={shlex.quote(str(props))}
if [ $# -eq 0 ]; then
  awk '{{ i = index($0, "="); printf "[%s]: [%s]\\n", substr($0, 1, i - 1), substr($0, i + 1) }}' "$props"
  exit 0
fi
awk -v key="$1" -v fallback="$2" '
  {{ i = index($0, "="); if (substr($0, 1, i - 1) == key) {{ print substr($0, i + 1); found = 1; exit }} }}
  END {{ if (!found) print fallback }}' "$props"
"""
    _write(root / "system" / "bin" / "getprop", script, 0o755)


def _write_cpus(root: Path, options: DeviceOptions) -> None:
    cpu_root = root / "sys" / "devices" / "system" / "cpu"
    last = options.cores - 1
    for name in ("online", "possible", "present"):
        _write(cpu_root / name, f"0-{last}\n" if last else "0\n")
    for index in range(options.cores):
        frequencies = LITTLE_FREQUENCIES_KHZ if index < max(1, options.cores // 2) else BIG_FREQUENCIES_KHZ
        cpufreq = cpu_root / f"cpu{index}" / "cpufreq"
        values = {
            "scaling_governor": GOVERNORS[0],
            "scaling_available_governors": " ".join(GOVERNORS),
            "scaling_available_frequencies": " ".join(str(f) for f in frequencies),
            "cpuinfo_min_freq": str(frequencies[0]),
            "cpuinfo_max_freq": str(frequencies[-1]),
            "scaling_min_freq": str(frequencies[0]),
            "scaling_max_freq": str(frequencies[-1]),
            "scaling_cur_freq": str(frequencies[len(frequencies) // 2]),
        }
        for name, value in values.items():
            _write(cpufreq / name, value + "\n")


def _write_thermal(root: Path, options: DeviceOptions) -> None:
    zones = {"cpu-0-0": options.temperature_c, "battery": options.temperature_c - 6.0}
    for index, (kind, celsius) in enumerate(zones.items()):
        zone = root / "sys" / "class" / "thermal" / f"thermal_zone{index}"
        _write(zone / "type", kind + "\n")
        _write(zone / "temp", f"{round(celsius * 1000)}\n")


def _write_battery(root: Path, options: DeviceOptions) -> None:
    battery = root / "sys" / "class" / "power_supply" / "battery"
    _write(battery / "capacity", f"{options.battery_pct}\n")
    _write(battery / "status", "Discharging\n")


def _write_proc(root: Path, options: DeviceOptions) -> None:
    proc = root / "proc"
    processors = "".join(
        f"processor\t: {index}\nBogoMIPS\t: 38.40\nCPU implementer\t: 0x41\n\n" for index in range(options.cores)
    )
    _write(proc / "cpuinfo", processors + "Hardware\t: Loopback SoC\n")
    _write(proc / "version", f"Linux version {platform.release()} (aipep loopback device)\n")
    for name in LIVE_PROC_FILES:
        host_file = Path("/proc") / name
        if host_file.exists():
            (proc / name).symlink_to(host_file)
