"""Describing a Linux machine we can only reach through a shell (a board over SSH).

The host platform reads the same facts straight from its own files; a remote
machine has no Python or psutil, so one POSIX shell script prints the raw
files in marked sections and the parsing happens here, on our side. Every
section is optional: a missing file only leaves its field out.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

SECTION_MARK = "@@aipep-section "

# Where Linux exposes temperatures, in millidegrees Celsius.
DEFAULT_TEMPERATURE_FILES = (
    "/sys/class/thermal/thermal_zone*/temp",
    "/sys/class/hwmon/hwmon*/temp*_input",
)

BATTERY_FILES = "/sys/class/power_supply/*/capacity"

_CPUFREQ = "/sys/devices/system/cpu/cpu0/cpufreq"

_SECTIONS = {
    "hostname": "cat /proc/sys/kernel/hostname",
    "cpuinfo": "cat /proc/cpuinfo",
    "meminfo": "cat /proc/meminfo",
    "kernel": "uname -r",
    "machine": "uname -m",
    "os_release": "cat /etc/os-release",
    "loadavg": "cat /proc/loadavg",
    "online_cpus": "cat /sys/devices/system/cpu/online",
    "core_siblings": "cat /sys/devices/system/cpu/cpu[0-9]*/topology/thread_siblings_list",
    "governor": f"cat {_CPUFREQ}/scaling_governor",
    "frequency_khz": f"cat {_CPUFREQ}/scaling_cur_freq {_CPUFREQ}/cpuinfo_min_freq {_CPUFREQ}/cpuinfo_max_freq",
}


def description_script(temperature_files: tuple[str, ...] = DEFAULT_TEMPERATURE_FILES) -> str:
    """One shell script whose output `parse_description` turns into the host platform's fields."""
    lines = [f"echo '{SECTION_MARK}{name}'; {command} 2>/dev/null" for name, command in _SECTIONS.items()]
    lines.append(temperature_script(temperature_files))
    lines.append(_cat_each("battery_pct", (BATTERY_FILES,)))
    return "\n".join([*lines, "true"])


def health_script(temperature_files: tuple[str, ...] = DEFAULT_TEMPERATURE_FILES) -> str:
    """Only what a health gate needs, cheap enough to poll: temperatures and battery levels."""
    return "\n".join([temperature_script(temperature_files), _cat_each("battery_pct", (BATTERY_FILES,)), "true"])


def temperature_script(temperature_files: tuple[str, ...] = DEFAULT_TEMPERATURE_FILES) -> str:
    return _cat_each("temperature_milli_c", temperature_files)


def parse_health(output: str) -> dict[str, float | None]:
    """The same keys the Android platform reports; None where the board has no such sensor."""
    sections = split_sections(output)
    batteries = [int(value) for value in sections.get("battery_pct", "").split() if value.isdigit()]
    return {
        "temperature_c": parse_temperature(sections.get("temperature_milli_c", "")),
        "battery_pct": float(min(batteries)) if batteries else None,
    }


def parse_description(output: str) -> dict[str, Any]:
    sections = split_sections(output)
    details: dict[str, Any] = {}
    _put(details, "hostname", sections.get("hostname", "").strip() or None)
    cpuinfo = sections.get("cpuinfo", "")
    _put(details, "cpu_model", _cpu_model(cpuinfo))
    _put(details, "logical_cores", _logical_cores(cpuinfo, sections.get("online_cpus", "")))
    _put(details, "physical_cores", len(set(sections.get("core_siblings", "").split())) or None)
    _put(details, "memory_bytes", _memory_bytes(sections.get("meminfo", "")))
    _put(details, "kernel", sections.get("kernel", "").strip() or None)
    _put(details, "os", _os_name(sections.get("os_release", "")))
    _put(details, "machine", sections.get("machine", "").strip() or None)
    _put(details, "load_average", _load_average(sections.get("loadavg", "")))
    _put(details, "governor", sections.get("governor", "").strip() or None)
    _put(details, "frequency_mhz", _frequency_mhz(sections.get("frequency_khz", "")))
    for name, value in parse_health(output).items():
        _put(details, name, value)
    return details


def parse_temperature(text: str) -> float | None:
    """The hottest sensor, as psutil reports it for the host: readings of zero mean 'no sensor'."""
    readings = [int(value) / 1000.0 for value in text.split() if re.fullmatch(r"-?\d+", value) and int(value) != 0]
    return max(readings) if readings else None


def split_sections(output: str) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith(SECTION_MARK):
            current = sections.setdefault(line[len(SECTION_MARK) :].strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def _put(details: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        details[name] = value


def _cat_each(section: str, patterns: tuple[str, ...]) -> str:
    """Print every readable file matching the patterns; the globs are left for the remote shell to expand."""
    words = " ".join(_glob_literal(pattern) for pattern in patterns)
    return f'echo \'{SECTION_MARK}{section}\'; for f in {words}; do [ -r "$f" ] && cat "$f" 2>/dev/null; done'


def _glob_literal(pattern: str) -> str:
    """Quote a path pattern for the shell while leaving its `*`, `?` and `[...]` to be expanded."""
    return "".join(part if part in "*?[]" else shlex.quote(part) for part in re.split(r"([*?\[\]])", pattern) if part)


def _cpu_model(cpuinfo: str) -> str | None:
    for key in ("model name", "Hardware", "Processor", "cpu model", "uarch"):
        for line in cpuinfo.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return None


def _logical_cores(cpuinfo: str, online: str) -> int | None:
    processors = sum(1 for line in cpuinfo.splitlines() if line.partition(":")[0].strip() == "processor")
    return processors or _count_cpu_list(online.strip())


def _count_cpu_list(text: str) -> int | None:
    """Count the CPUs in a kernel CPU list such as `0-3,6`."""
    if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", text):
        return None
    count = 0
    for part in text.split(","):
        first, _, last = part.partition("-")
        count += int(last or first) - int(first) + 1
    return count


def _memory_bytes(meminfo: str) -> int | None:
    match = re.search(r"^MemTotal:\s+(\d+)\s+kB", meminfo, re.MULTILINE)
    return int(match[1]) * 1024 if match else None


def _os_name(os_release: str) -> str | None:
    match = re.search(r"^PRETTY_NAME=(.*)$", os_release, re.MULTILINE)
    if not match:
        return None
    return match[1].strip().strip("\"'") or None


def _load_average(loadavg: str) -> list[float] | None:
    fields = loadavg.split()[:3]
    try:
        return [float(value) for value in fields] if len(fields) == 3 else None
    except ValueError:
        return None


def _frequency_mhz(text: str) -> dict[str, float] | None:
    values = text.split()
    if len(values) != 3 or not all(value.isdigit() for value in values):
        return None
    current, minimum, maximum = (int(value) / 1000.0 for value in values)
    return {"current": current, "min": minimum, "max": maximum}
