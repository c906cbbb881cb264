"""`python -m platforms list [-p android -d host:port,...]`: the devices a harness could use, and how they are.

Each device is opened as a harness would open it (so a device busy with another harness
says so), described, and its health read; one line each, or one JSON object per line with
--json. The platform flags are the ones the platforms declare (platforms/option_flags.py),
as in the harness, and one the chosen platform does not take is a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from aipep_core.errors import RunFailure, UserError
from platforms.option_flags import add_option_flags, given_options
from platforms.registry import available_platforms, check_platform_options, get_platform


class _Parser(argparse.ArgumentParser):
    """Usage mistakes become our one-line UserError (exit 2) instead of argparse's usage block."""

    def error(self, message: str):
        raise UserError(f"command line: {message}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse and check the flags; an unknown platform is a usage error, not a device row."""
    parser = _Parser(prog="python -m platforms", description="List the devices of a platform.", allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    listing = commands.add_parser("list", help="describe each device and its health", allow_abbrev=False)
    listing.add_argument("-p", "--platform", default="host", help=f"one of {', '.join(available_platforms())}")
    listing.add_argument("-d", "--devices", default="", help="comma list: serials, host:port, user@host:port")
    listing.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each device")
    listing.add_argument("--json", action="store_true", help="print one JSON object per device")
    add_option_flags(listing.add_argument_group("platform options (each for the platforms named)"))
    args = parser.parse_args(argv)
    if args.platform not in available_platforms():
        raise UserError(
            f"-p/--platform: unknown platform {args.platform!r}, expected one of {', '.join(available_platforms())}"
        )
    args.options = check_platform_options(args.platform, given_options(vars(args)))
    return args


def inspect_device(platform_name: str, device: str | None, timeout: float, options: dict[str, Any]) -> dict[str, Any]:
    """Description and health of one device, or why it cannot be reached."""
    entry: dict[str, Any] = {"platform": platform_name, "device": device}
    try:
        platform = get_platform(platform_name, device=device, timeout=timeout, **options)
    except UserError as error:
        return {**entry, "status": "unavailable", "error": str(error)}
    try:
        platform.prepare()
        entry["description"] = platform.describe().as_dict()
        entry["device"] = entry["description"]["identifier"]
        health = getattr(platform, "health", None)
        entry["health"] = health() if health else {}
        entry["status"] = "ok"
    except (UserError, RunFailure) as error:
        entry.update(status="unavailable", error=str(error))
    finally:
        platform.close()
    return entry


def summary_line(entry: dict[str, Any]) -> str:
    head = f"{entry['platform']}\t{entry['device']}\t{entry['status']}"
    if entry["status"] != "ok":
        return f"{head}\t{entry['error']}"
    details = entry["description"]
    model = details.get("model") or details.get("cpu_model")
    parts = [model, _os(details), details.get("abi") or details.get("machine")]
    cores = details.get("cores") or details.get("logical_cores")
    if cores:
        parts.append(f"{cores} cores")
    if details.get("governor"):
        parts.append(f"governor {details['governor']}")
    health = {**details, **entry["health"]}
    if health.get("temperature_c") is not None:
        parts.append(f"{health['temperature_c']:.1f} C")
    if health.get("battery_pct") is not None:
        parts.append(f"battery {health['battery_pct']}%")
    return f"{head}\t" + ", ".join(str(part) for part in parts if part)


def _os(details: dict[str, Any]) -> str | None:
    if details.get("android_version"):
        return f"Android {details['android_version']}"
    return details.get("os")


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except UserError as error:
        print(f"python -m platforms: error: {error}", file=sys.stderr)
        return error.exit_status
    devices = [device.strip() for device in args.devices.split(",") if device.strip()] or [None]
    entries = [inspect_device(args.platform, device, args.timeout, args.options) for device in devices]
    for entry in entries:
        print(json.dumps(entry, sort_keys=True) if args.json else summary_line(entry))
    return 0 if all(entry["status"] == "ok" for entry in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
