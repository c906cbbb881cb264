"""`--set_freq max|min|mid`: pin every core's frequency on a rooted device, and undo it.

Pinning scaling_min_freq and scaling_max_freq to one value works whatever the
governor is, so the governor is never changed. Writes go through the plain
shell first and through `su -c` when that is refused (a rooted phone whose
adbd is not root).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from aipep_core.errors import UserError
from platforms.android.device_facts import CpuFacts

CHOICES = ("max", "min", "mid")
CPU_ROOT = "/sys/devices/system/cpu"


@dataclass(frozen=True)
class FrequencySetting:
    cpu: str
    min_khz: int
    max_khz: int


def target_khz(cpu: CpuFacts, choice: str, available: list[int]) -> int:
    low, high = cpu.min_khz, cpu.max_khz
    if choice == "max":
        return high
    if choice == "min":
        return low
    if available:
        return sorted(available)[len(available) // 2]
    return (low + high) // 2


def pinned(cpus: list[CpuFacts], choice: str, available: dict[str, list[int]]) -> list[FrequencySetting]:
    settings = []
    for cpu in cpus:
        if cpu.min_khz is None or cpu.max_khz is None:
            continue
        target = target_khz(cpu, choice, available.get(cpu.name, []))
        settings.append(FrequencySetting(cpu.name, target, target))
    return settings


def current(cpus: list[CpuFacts]) -> list[FrequencySetting]:
    return [
        FrequencySetting(cpu.name, cpu.scaling_min_khz, cpu.scaling_max_khz)
        for cpu in cpus
        if cpu.scaling_min_khz is not None and cpu.scaling_max_khz is not None and cpu.max_khz is not None
    ]


def write_script(settings: list[FrequencySetting], cpus: list[CpuFacts]) -> str:
    """Open the range to the hardware maximum first, so min never exceeds max on the way."""
    hardware_max = {cpu.name: cpu.max_khz for cpu in cpus}
    lines = ["set -e"]
    for setting in settings:
        base = f"{CPU_ROOT}/{setting.cpu}/cpufreq"
        lines += [
            f"echo {hardware_max[setting.cpu]} > {base}/scaling_max_freq",
            f"echo {setting.min_khz} > {base}/scaling_min_freq",
            f"echo {setting.max_khz} > {base}/scaling_max_freq",
        ]
    lines.append("echo __AIPEP_FREQ_OK__")
    return "\n".join(lines)


def available_script(cpus: list[CpuFacts]) -> str:
    return "\n".join(
        f'echo "{cpu.name} $(cat {CPU_ROOT}/{cpu.name}/cpufreq/scaling_available_frequencies 2> /dev/null)"'
        for cpu in cpus
    )


def parse_available(text: str) -> dict[str, list[int]]:
    available = {}
    for line in text.splitlines():
        name, *values = line.split()
        available[name] = [int(value) for value in values if value.isdigit()]
    return available


def apply(shell: Callable[[str], str], script: str, device: str) -> None:
    """Run a write script as the shell user, then through su; UserError if neither may write."""
    for command in (script, f"su -c {shlex.quote(script)}"):
        if "__AIPEP_FREQ_OK__" in shell(f"( {command} ) 2> /dev/null"):
            return
    raise UserError(f"--set_freq: android device {device} refused the cpufreq settings; it needs to be rooted")
