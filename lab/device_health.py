"""Is the device fit to take a job: reachable, cool enough, charged enough.

A hot phone or a board that dropped off the network would turn every job it took into a
failed or throttled result, while another worker of the same kind could run it well. So a
worker asks before each job and, while the answer is no, takes no jobs from its queue; the
same question, asked again every interval, lets it take jobs again once the device recovers.
A reading the device does not offer counts as fine, as in the harness's own health gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aipep_core.errors import RunFailure, UserError
from lab.lab_device import LabDevice
from platforms import get_platform

CHECK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class HealthLimits:
    max_temperature_c: float | None = None
    min_battery_pct: float | None = None


def unhealthy_reason(device: LabDevice, options: dict[str, Any], limits: HealthLimits) -> str | None:
    """Why the device should take no job now; None when it may."""
    try:
        platform = get_platform(device.platform, device=device.device, timeout=CHECK_TIMEOUT_S, **options)
        try:
            reading = platform.health() if hasattr(platform, "health") else platform.describe().as_dict()
        finally:
            platform.close()
    except (UserError, RunFailure, OSError) as error:
        return f"unreachable: {error}"
    temperature, battery = reading.get("temperature_c"), reading.get("battery_pct")
    if limits.max_temperature_c is not None and temperature is not None and temperature > limits.max_temperature_c:
        return f"temperature {temperature:.1f} C above --max_temperature {limits.max_temperature_c:g}"
    if limits.min_battery_pct is not None and battery is not None and battery < limits.min_battery_pct:
        return f"battery {battery:g}% below --min_battery {limits.min_battery_pct:g}"
    return None
