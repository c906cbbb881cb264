"""The device-side shell script that runs one benchmark command.

The device's shell is a shell, so every argument is quoted with shlex.quote
and never interpreted. The program runs in its own session (setsid), with
its pid written to a file; a watchdog in a second session kills the whole
process group when the timeout passes, so a hung program is stopped on the
device even if the host loses the connection. Whatever the program left
running in its group is killed when it exits, as on the host. stdout comes back on the
shell stream; stderr, the exit status, load, wall and CPU times go to files
that the host pulls afterwards, so nothing has to be parsed out of stdout.
Wall time is taken on the device from /proc/uptime (10 ms steps), so ADB's
own latency never counts as the program's.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TIMES = re.compile(r"(\d+)m([\d.]+)s")


@dataclass(frozen=True)
class RunFiles:
    """Where one run keeps its side files on the device."""

    directory: str

    @property
    def stderr(self) -> str:
        return f"{self.directory}/stderr"

    @property
    def status(self) -> str:
        return f"{self.directory}/status"

    @property
    def pid(self) -> str:
        return f"{self.directory}/pid"

    @property
    def timed_out(self) -> str:
        return f"{self.directory}/timed_out"


def program_command(argv: list[str], env: dict[str, str] | None) -> str:
    for name in env or {}:
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"environment variable name {name!r} is not a shell name")
    exports = "".join(f"export {name}={shlex.quote(value)}; " for name, value in (env or {}).items())
    return exports + "exec " + " ".join(shlex.quote(arg) for arg in argv)


def run_script(argv: list[str], env: dict[str, str] | None, cwd: str, timeout_s: float, files: RunFiles) -> str:
    q = shlex.quote
    watchdog = 'sleep "$1"; echo 1 > "$2"; kill -9 "-$3"'
    return "\n".join(
        [
            f"mkdir -p {q(files.directory)} && exec 2> {q(files.stderr)} < /dev/null || exit 125",
            f"cd {q(cwd)} || exit 125",
            "read load_before rest < /proc/loadavg",
            "read up_before rest < /proc/uptime",
            f"setsid sh -c {q(program_command(argv, env))} &",
            "pid=$!",
            f"echo $pid > {q(files.pid)}",
            f"setsid sh -c {q(watchdog)} watchdog {timeout_s:.3f} {q(files.timed_out)} $pid > /dev/null 2>&1 &",
            "watchdog=$!",
            "wait $pid",
            "status=$?",
            "read up_after rest < /proc/uptime",
            "exec 2> /dev/null",
            "kill -9 -$pid",
            "kill -9 -$watchdog || kill -9 $watchdog",
            "wait $watchdog",
            "read load_after rest < /proc/loadavg",
            f"[ -e {q(files.timed_out)} ] && timed_out=1 || timed_out=0",
            f"{{ echo $status $timed_out $load_before $load_after $up_before $up_after; times; }} > {q(files.status)}",
        ]
    )


@dataclass(frozen=True)
class RunStatus:
    returncode: int
    timed_out: bool
    load_before: float | None
    load_after: float | None
    cpu_seconds: float | None
    wall_seconds: float | None


def parse_status(text: str) -> RunStatus:
    """Read the status file: `status timed_out load_before load_after up_before up_after`, then `times`."""
    first, _, rest = text.partition("\n")
    fields = first.split()
    if len(fields) < 2:
        raise ValueError(f"unreadable run status {first!r}")
    returncode, timed_out = int(fields[0]), fields[1] == "1"
    numbers = [_float(value) for value in fields[2:6]] + [None] * 4
    load_before, load_after, up_before, up_after = numbers[:4]
    wall = up_after - up_before if up_before is not None and up_after is not None else None
    times = [int(minutes) * 60 + float(seconds) for minutes, seconds in _TIMES.findall(rest)]
    cpu = times[2] + times[3] if len(times) >= 4 else None
    return RunStatus(returncode, timed_out and returncode == 137, load_before, load_after, cpu, wall)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
