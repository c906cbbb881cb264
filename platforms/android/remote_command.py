"""The device-side shell script that runs one benchmark command.

The device's shell is a shell, so every argument is quoted with shlex.quote
and never interpreted. The program runs in its own session (setsid), with
its pid written to a file; a watchdog in a second session kills the whole
process group when the timeout passes, so a hung program is stopped on the
device even if the host loses the connection. Whatever the program left
running in its group is killed when it exits, as on the host. stdout goes to a
file on the device, and once the program is gone the script prints it back on the
shell stream bounded as on the host (platforms/bounded_output.py): whole when
small, else its head and tail, and between them, behind a per-run random marker,
every measurement line of the whole file (toybox's head, tail, grep and wc do the
work, so a program printing gigabytes costs the host only the bound). stderr, the
exit status, load, wall and CPU times go to files that the host pulls afterwards,
so nothing has to be parsed out of stdout.
Wall time is taken on the device from /proc/uptime (10 ms steps), so ADB's
own latency never counts as the program's. A sampler beside the program reads its
/proc files (platforms/proc_usage_script.py) into the status file too.
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass, field

from platforms.bounded_output import (
    HEAD_BYTES,
    KEPT_LINE_BYTES,
    MEASUREMENT_PREFIXES,
    TAIL_BYTES,
    CapturedOutput,
    left_out_line,
)
from platforms.proc_usage_script import parse_usage, sampler_loop, usage_values
from platforms.resource_usage import ResourceUsage

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TIMES = re.compile(r"(\d+)m([\d.]+)s")


@dataclass(frozen=True)
class RunFiles:
    """Where one run keeps its side files on the device."""

    directory: str
    marker: str = field(default_factory=lambda: f"aipep-{secrets.token_hex(8)}")

    @property
    def stdout(self) -> str:
        return f"{self.directory}/stdout"

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
    def usage(self) -> str:
        return f"{self.directory}/usage"

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
            f"setsid sh -c {q(program_command(argv, env))} > {q(files.stdout)} &",
            "pid=$!",
            f"echo $pid > {q(files.pid)}",
            f"setsid sh -c {q(watchdog)} watchdog {timeout_s:.3f} {q(files.timed_out)} $pid > /dev/null 2>&1 &",
            "watchdog=$!",
            f"( {sampler_loop('pid')}",
            f"echo {usage_values()} > {q(files.usage)} ) &",
            "sampler=$!",
            "wait $pid",
            "status=$?",
            "read up_after rest < /proc/uptime",
            "exec 2> /dev/null",
            "kill -9 -$pid",
            "kill -9 -$watchdog || kill -9 $watchdog",
            "wait $watchdog",
            "wait $sampler",
            "usage=; read -r usage < " + q(files.usage),
            "read load_after rest < /proc/loadavg",
            f"[ -e {q(files.timed_out)} ] && timed_out=1 || timed_out=0",
            f"{{ echo $status $timed_out $load_before $load_after $up_before $up_after; times; echo usage $usage; }}"
            f" > {q(files.status)}",
            bounded_stdout_script(files),
        ]
    )


def bounded_stdout_script(files: RunFiles) -> str:
    """Print the program's stdout file whole, or head, marker, measurement lines, marker, tail."""
    q = shlex.quote
    pattern = "|".join(prefix.decode() for prefix in MEASUREMENT_PREFIXES)
    return "\n".join(
        [
            f"size=$(wc -c < {q(files.stdout)})",
            f'if [ "${{size:-0}}" -le {HEAD_BYTES + TAIL_BYTES} ]; then cat {q(files.stdout)}; else',
            f"  head -c {HEAD_BYTES} {q(files.stdout)}",
            f"  printf '\\n%s %s\\n' {files.marker} $((size - {HEAD_BYTES + TAIL_BYTES}))",
            f"  grep -E {q(pattern)} {q(files.stdout)} | head -c {KEPT_LINE_BYTES}",
            f"  printf '\\n%s\\n' {files.marker}",
            f"  tail -c {TAIL_BYTES} {q(files.stdout)}",
            "fi",
            f"rm -f {q(files.stdout)}",
        ]
    )


def read_bounded_stdout(text: str, marker: str) -> CapturedOutput:
    """Split what bounded_stdout_script printed into the log text and the text to parse.

    The measurement lines came from the whole file, so the parse text is they, then the
    tail's other lines (a tool's closing summary), each measurement read exactly once.
    """
    head, found, rest = text.partition(f"\n{marker} ")
    if not found:
        return CapturedOutput(text, None, len(text), 0)
    dropped, _, rest = rest.partition("\n")
    measurements, _, tail = rest.partition(f"\n{marker}\n")
    dropped_bytes = int(dropped) if dropped.isdigit() else 0
    kept = [line for line in measurements.splitlines() if line]
    log = head + left_out_line(dropped_bytes, len(kept), 0) + tail
    others = [line for line in tail.splitlines()[1:] if not any(p.decode() in line for p in MEASUREMENT_PREFIXES)]
    parse_text = "\n".join([*kept, *others]) + "\n"
    return CapturedOutput(log, parse_text, len(head) + dropped_bytes + len(tail), dropped_bytes)


@dataclass(frozen=True)
class RunStatus:
    returncode: int
    timed_out: bool
    load_before: float | None
    load_after: float | None
    cpu_seconds: float | None
    wall_seconds: float | None
    usage: ResourceUsage | None = None


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
    usage_line = next((line.split()[1:] for line in rest.splitlines() if line.startswith("usage ")), None)
    usage = parse_usage(usage_line, wall, cpu) if usage_line else None
    return RunStatus(returncode, timed_out and returncode == 137, load_before, load_after, cpu, wall, usage)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
