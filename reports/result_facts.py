"""What a reader needs to know about where a result came from: device, commits, program versions.

Shown at the top of every single-result report, so a file that travels without its
database still says exactly what ran where.
"""

from __future__ import annotations

import datetime
from typing import Any

from aipep_core import number_format
from aipep_core.result_record import RunResult


def origin_facts(result: RunResult) -> tuple[tuple[str, str], ...]:
    meta = result.meta
    device = meta.get("device") if isinstance(meta.get("device"), dict) else {}
    facts = [
        ("Result", result.id),
        ("Status", result.status + (f": {result.failure}" if result.failure else "")),
        ("Model", _text(meta.get("model"))),
        ("Test", _text(meta.get("identifier"))),
        ("Framework", _text(meta.get("framework"))),
        ("Platform", _text(meta.get("platform"))),
        ("Device", _device_text(device)),
        ("Commit", _text(meta.get("commit"))),
    ]
    if meta.get("control_commit") is not None:
        facts.append(("Control commit", _text(meta.get("control_commit"))))
    if isinstance(meta.get("start_time"), int | float):
        started = datetime.datetime.fromtimestamp(meta["start_time"], datetime.UTC)
        facts.append(("Started", started.strftime("%Y-%m-%d %H:%M:%S UTC")))
    if isinstance(meta.get("device_seconds"), int | float):
        facts.append(("Device time", f"{number_format.measurement(meta['device_seconds'])} s"))
    for name in ("program_versions", "control_program_versions", "versions"):
        if isinstance(meta.get(name), dict) and meta[name]:
            facts.append((name.replace("_", " ").capitalize(), _mapping_text(meta[name])))
    return tuple(facts)


def _device_text(device: dict[str, Any]) -> str:
    shown = [str(device[name]) for name in ("identifier", "cpu_model", "machine", "os") if device.get(name)]
    return ", ".join(shown) or number_format.MISSING


def _mapping_text(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in sorted(mapping.items()) if not isinstance(value, dict))


def _text(value: object) -> str:
    return number_format.MISSING if value is None else str(value)
