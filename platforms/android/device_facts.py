"""What an Android device is and how it is doing, gathered in one shell round trip.

Each fact is one line `kind name value...`; a file that cannot be read (many
thermal zones refuse, cores go offline) prints `-` and is left out, so a
phone missing a fact still describes itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PROPERTIES = {
    "model": "ro.product.model",
    "manufacturer": "ro.product.manufacturer",
    "hardware": "ro.hardware",
    "board_platform": "ro.board.platform",
    "soc_model": "ro.soc.model",
    "soc_manufacturer": "ro.soc.manufacturer",
    "android_version": "ro.build.version.release",
    "sdk": "ro.build.version.sdk",
    "abi": "ro.product.cpu.abi",
    "abi_list": "ro.product.cpu.abilist",
    "build_fingerprint": "ro.build.fingerprint",
}

_READ = 'r() { v=$(cat "$1" 2> /dev/null) && [ -n "$v" ] && echo "$v" || echo -; }'
_HEALTH = "\n".join(
    [
        "for z in /sys/class/thermal/thermal_zone*; do",
        '  [ -d "$z" ] && echo "thermal $(r $z/type | tr " " _) $(r $z/temp)"',
        "done",
        "echo battery $(r /sys/class/power_supply/battery/capacity)",
    ]
)
_CPUS = "\n".join(
    [
        "cd /sys/devices/system/cpu 2> /dev/null && for c in cpu[0-9]*; do",
        "  f=$c/cpufreq",
        '  echo "cpu $c $(r $f/scaling_governor) $(r $f/scaling_cur_freq) $(r $f/cpuinfo_min_freq)'
        ' $(r $f/cpuinfo_max_freq) $(r $f/scaling_min_freq) $(r $f/scaling_max_freq)"',
        "done",
    ]
)
DESCRIBE_SCRIPT = "\n".join(
    [_READ, *(f'echo "prop {key} $(getprop {name})"' for key, name in PROPERTIES.items()), _HEALTH, _CPUS]
)
HEALTH_SCRIPT = "\n".join([_READ, _HEALTH])


@dataclass(frozen=True)
class CpuFacts:
    name: str
    governor: str | None
    current_khz: int | None
    min_khz: int | None
    max_khz: int | None
    scaling_min_khz: int | None
    scaling_max_khz: int | None


@dataclass
class DeviceFacts:
    properties: dict[str, str]
    thermal_c: dict[str, float]
    battery_pct: int | None
    cpus: list[CpuFacts]

    @property
    def temperature_c(self) -> float | None:
        return max(self.thermal_c.values()) if self.thermal_c else None

    def health(self) -> dict[str, Any]:
        return {"temperature_c": self.temperature_c, "battery_pct": self.battery_pct}

    def as_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {key: value for key, value in self.properties.items() if value}
        details["cores"] = len(self.cpus)
        details["cpus"] = [
            {"name": cpu.name, "governor": cpu.governor, "cur_khz": cpu.current_khz, "max_khz": cpu.max_khz}
            for cpu in self.cpus
        ]
        governors = sorted({cpu.governor for cpu in self.cpus if cpu.governor})
        if governors:
            details["governor"] = ",".join(governors)
        details["thermal_zones_c"] = self.thermal_c
        details.update({key: value for key, value in self.health().items() if value is not None})
        return details


def celsius(raw: str) -> float | None:
    """Thermal zones report millidegrees, some decidegrees or degrees; implausible values are dropped."""
    try:
        value = float(raw)
    except ValueError:
        return None
    for scale in (1.0, 10.0, 1000.0):
        if abs(value) / scale <= 150.0:
            return value / scale if value / scale >= -40.0 else None
    return None


def parse_facts(text: str) -> DeviceFacts:
    facts = DeviceFacts(properties={}, thermal_c={}, battery_pct=None, cpus=[])
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "prop":
            key, _, value = rest.partition(" ")
            facts.properties[key] = value.strip()
        elif kind == "thermal":
            name, _, raw = rest.partition(" ")
            value = celsius(raw.strip())
            if value is not None:
                facts.thermal_c[name] = value
        elif kind == "battery" and rest.strip().isdigit():
            facts.battery_pct = int(rest.strip())
        elif kind == "cpu":
            fields = rest.split()
            if len(fields) == 7:
                facts.cpus.append(CpuFacts(fields[0], _text(fields[1]), *(_int(value) for value in fields[2:])))
    return facts


def _text(value: str) -> str | None:
    return None if value == "-" else value


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None
