"""The loopback device's `shell:` and `shell,v2:` services: host /bin/sh with device paths rewritten.

`shell:` (legacy) sends stdout and stderr mixed as raw bytes and ends with
CLSE, so the exit status is lost, as on a real device. `shell,v2:` frames
every chunk as [id u8][length u32][data]: 0 stdin, 1 stdout, 2 stderr,
3 exit status, 4 close stdin, 5 window size. No PTY is ever allocated.
The command runs in its own session, killed when the stream or the
connection closes, as adbd hangs up on a shell whose client went away.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import subprocess
import threading
from typing import IO

from platforms.android.loopback.path_rewrite import rewrite_command
from platforms.android.loopback.streams import DeviceConfig, Stream, StreamClosed

STDIN, STDOUT, STDERR, EXIT, CLOSE_STDIN = 0, 1, 2, 3, 4
PACKET_HEADER = struct.Struct("<BI")
READ_SIZE = 64 * 1024


def parse_shell_destination(destination: str) -> tuple[bool, str]:
    """`shell,v2,raw:ls` → (True, "ls"); `shell:ls` → (False, "ls")."""
    service, _, command = destination.partition(":")
    options = service.split(",")[1:]
    return "v2" in options, command


def device_environment(config: DeviceConfig) -> dict[str, str]:
    root = config.root
    return {
        "PATH": f"{root}/system/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(root / "data" / "local" / "tmp"),
        "TMPDIR": str(root / "data" / "local" / "tmp"),
        "ANDROID_DATA": str(root / "data"),
        "LANG": "C",
    }


def start_command(config: DeviceConfig, command: str, separate_stderr: bool) -> subprocess.Popen:
    return subprocess.Popen(
        ["/bin/sh", "-c", rewrite_command(config.root, command)] if command else ["/bin/sh"],
        cwd=config.root,
        env=device_environment(config),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if separate_stderr else subprocess.STDOUT,
        start_new_session=True,
    )


def kill_session(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def serve_shell(stream: Stream, destination: str, config: DeviceConfig) -> None:
    v2, command = parse_shell_destination(destination)
    process = start_command(config, command, separate_stderr=v2)
    stream.on_close(lambda: kill_session(process))
    threading.Thread(target=_feed_stdin, args=(stream, process, v2), daemon=True).start()
    if v2:
        pumps = [
            threading.Thread(target=_pump, args=(stream, process.stdout, STDOUT), daemon=True),
            threading.Thread(target=_pump, args=(stream, process.stderr, STDERR), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        for pump in pumps:
            pump.join()
        status = exit_status(process.wait())
        stream.write(PACKET_HEADER.pack(EXIT, 1) + bytes([status & 0xFF]))
    else:
        _pump(stream, process.stdout, None)
        process.wait()


def _pump(stream: Stream, pipe: IO[bytes], packet_id: int | None) -> None:
    with contextlib.suppress(StreamClosed, OSError):
        while chunk := pipe.read1(READ_SIZE):
            stream.write(chunk if packet_id is None else PACKET_HEADER.pack(packet_id, len(chunk)) + chunk)


def _feed_stdin(stream: Stream, process: subprocess.Popen, v2: bool) -> None:
    pending = b""
    with contextlib.suppress(StreamClosed, OSError, ValueError):
        while True:
            data = stream.read()
            if not v2:
                process.stdin.write(data)
                process.stdin.flush()
                continue
            pending += data
            while len(pending) >= PACKET_HEADER.size:
                packet_id, length = PACKET_HEADER.unpack_from(pending)
                if len(pending) < PACKET_HEADER.size + length:
                    break
                payload = pending[PACKET_HEADER.size : PACKET_HEADER.size + length]
                pending = pending[PACKET_HEADER.size + length :]
                if packet_id == STDIN:
                    process.stdin.write(payload)
                    process.stdin.flush()
                elif packet_id == CLOSE_STDIN:
                    process.stdin.close()
