"""The device a worker serves (`--device PLATFORM:ID`) and its kind, the queue it takes jobs from.

The kind is what a user would name when asking for a device: a phone's model for Android,
a board's model for SSH (or `--kind` where a model does not tell boards apart), and `host`
for a host. It is asked of the device itself, so a worker never serves a queue for a
device it does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aipep_core.errors import UserError
from platforms import get_platform
from platforms.registry import platform_class

HOST_KIND = "host"
DESCRIBE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LabDevice:
    platform: str
    device: str

    @property
    def label(self) -> str:
        return f"{self.platform}:{self.device}"


def parse_device(text: str) -> LabDevice:
    """`PLATFORM:ID`, such as `android:R58M123`, `ssh:pi@board1.local:22` or `host:build-box-1`."""
    platform, separator, device = text.partition(":")
    if not separator or not platform or not device:
        raise UserError(f"--device: expected PLATFORM:ID (such as host:build-box-1 or android:R58M123), got {text!r}")
    try:
        platform_class(platform)
    except UserError as error:
        raise UserError(f"--device: {error}") from None
    return LabDevice(platform, device)


def device_kind(device: LabDevice, options: dict[str, Any], kind: str | None) -> str:
    """The kind the worker serves: `--kind` when given, else what the device says it is."""
    if kind is not None:
        if not kind.strip():
            raise UserError("--kind: expected a non-empty name")
        return kind.strip()
    if device.platform == HOST_KIND:
        return HOST_KIND
    platform = get_platform(device.platform, device=device.device, timeout=DESCRIBE_TIMEOUT_S, **options)
    try:
        model = platform.describe().as_dict().get("model")
    finally:
        platform.close()
    if not model:
        raise UserError(f"--device {device.label}: the device does not say its model; give --kind")
    return str(model)
