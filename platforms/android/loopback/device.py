"""A stand-in Android device speaking the real ADB wire protocol over TCP.

    python -m platforms.android.loopback --port 5555 --root DIR [--abi arm64-v8a ...]

Debian's adb (`adb connect 127.0.0.1:5555`) and the adb-shell library talk to
it as to a phone reached over Wi-Fi. Shell commands run on this machine's
/bin/sh with DIR standing in for the device's `/` (see path_rewrite for the
limits). With --port 0 a free port is chosen; the first line printed says
which, so a caller can wait for it.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from pathlib import Path

from platforms.android.loopback.adb_public_key import read_authorized_keys
from platforms.android.loopback.device_tree import DeviceOptions, build_device_tree, host_abi
from platforms.android.loopback.path_rewrite import check_root
from platforms.android.loopback.shell import serve_shell
from platforms.android.loopback.streams import Connection, DeviceConfig, Service, Stream
from platforms.android.loopback.sync import serve_sync


def serve_reboot(stream: Stream, destination: str, config: DeviceConfig) -> None:
    """Drop the connection, as a rebooting phone does; the device is back at once."""
    stream.connection.drop()


def find_service(destination: str) -> Service | None:
    name = destination.partition(":")[0].split(",")[0]
    return {"shell": serve_shell, "exec": serve_shell, "sync": serve_sync, "reboot": serve_reboot}.get(name)


def serve(listener: socket.socket, config: DeviceConfig) -> None:
    """Accept clients until stopped; on the way out every connection is dropped, killing what it runs."""
    connections: list[Connection] = []
    try:
        while True:
            client, _ = listener.accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = Connection(client, config, find_service)
            connections.append(connection)
            threading.Thread(target=connection.serve, daemon=True).start()
    finally:
        for connection in connections:
            connection.drop()


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m platforms.android.loopback",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=5555, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--root", required=True, type=Path, help="directory that stands for the device's /")
    parser.add_argument("--abi", action="append", help="ABIs the device runs, first is primary (default: this host's)")
    parser.add_argument("--model", default="AIPEP Loopback", help="ro.product.model")
    parser.add_argument("--android_release", default="14", help="ro.build.version.release")
    parser.add_argument("--cores", type=int, default=4, help="CPU cores shown under /sys")
    parser.add_argument("--battery", type=int, default=87, help="battery level in percent")
    parser.add_argument("--temperature", type=float, default=36.5, help="CPU thermal zone in degrees C")
    parser.add_argument("--max_bytes", type=int, help="storage size: a push past it fails with 'No space left'")
    parser.add_argument("--adb_keys", help="accept only these public keys (adb_keys format); default: any key")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        root = check_root(args.root)
        root.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        print(f"loopback device: {exc}", file=sys.stderr)
        return 2
    options = DeviceOptions(
        abis=tuple(args.abi or [host_abi()]),
        model=args.model,
        android_release=args.android_release,
        cores=args.cores,
        battery_pct=args.battery,
        temperature_c=args.temperature,
    )
    listener = socket.create_server((args.host, args.port))
    options.serial = f"{args.host}:{listener.getsockname()[1]}"
    build_device_tree(root, options)
    keys = read_authorized_keys(args.adb_keys) if args.adb_keys else None
    config = DeviceConfig(root=root, options=options, max_bytes=args.max_bytes, authorized_keys=keys)
    signal.signal(signal.SIGTERM, _stop)
    print(f"listening on {args.host}:{listener.getsockname()[1]}", flush=True)
    try:
        serve(listener, config)
    except KeyboardInterrupt:
        return 0
    return 0
