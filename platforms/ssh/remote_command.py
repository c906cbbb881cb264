"""The shell text that runs one benchmark process on a board, and reading back what it reported.

sshd hands a command to the user's login shell, so every argument, variable
and directory is quoted with `shlex.quote`: a spec value like `x; rm -rf ~`
arrives as one literal argument. The command is run by bash when the board
has it, else by `/bin/sh`, whatever the login shell is: bash's `times` counts
in milliseconds rather than clock ticks and `$EPOCHREALTIME` reads the clock
without starting a process, while the script itself stays POSIX.

OpenSSH and Dropbear start each command in a new session, so the wrapper
shell's pid is also its process group: killing that group (plus any
descendant found through /proc that moved to a group of its own) ends the
whole tree.

Timing is taken on the board, not here: starting a command through sshd
costs from a few milliseconds to a tenth of a second or more (a login shell
that reads heavy start-up files), which would swamp the CPU/wall ratio the
A/B runner uses to spot disturbed rounds. The wrapper reads the clock
(`$EPOCHREALTIME`, `date +%s.%N` or /proc/uptime, the first the board has)
and the `times` builtin (CPU time of waited-for children, so no /usr/bin/time
is needed) just before and after the program. It reports on stderr behind a
per-run random marker: a header before the program's own stderr, a trailer
after it. The program runs in the background while a sampler beside it reads its
/proc files (platforms/proc_usage_script.py) and reports one more marked line.
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass

from aipep_core.errors import UserError
from aipep_core.run_constraints import RunConstraints
from platforms.proc_usage_script import parse_usage, sampler_loop, usage_values
from platforms.resource_usage import ResourceUsage
from platforms.ssh import remote_cgroups
from platforms.ssh.remote_cgroups import BoardLimitsReport

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TIMES = re.compile(r"(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s")

# Reads the first field of a /proc file into a variable without starting a process.
_READ_FIRST = "{name}=; {{ read -r {name} rest < {path}; }} 2>/dev/null"


@dataclass(frozen=True)
class WrappedCommand:
    marker: str
    script: str


@dataclass(frozen=True)
class Reported:
    """What the wrapper said about the program, separated from the program's own stderr."""

    pid: int | None
    finished: bool
    status: int | None = None
    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    load_before: float | None = None
    load_after: float | None = None
    stderr: str = ""
    usage: ResourceUsage | None = None
    limits: BoardLimitsReport | None = None


def wrap(
    argv: list[str],
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    make_dirs: tuple[str, ...] = (),
    constraints: RunConstraints | None = None,
) -> WrappedCommand:
    """`make_dirs` are created first, sparing a separate round trip through sshd for each output directory;
    with `constraints` the program runs in cgroups of its own, named after the marker (remote_cgroups.py)."""
    if not argv:
        raise UserError("command: expected a program and its arguments, got an empty command")
    marker = f"aipep-{secrets.token_hex(8)}"
    program = " ".join(shlex.quote(arg) for arg in argv)
    limited = constraints is not None
    lines = [
        _READ_FIRST.format(name="load0", path="/proc/loadavg"),
        f'printf "%s pid %s %s\\n" {marker} "$$" "$load0" >&2',
        *([remote_cgroups.setup_script(constraints, marker, marker)] if limited else []),
        *([f"mkdir -p -- {' '.join(map(shlex.quote, make_dirs))} || exit 126"] if make_dirs else []),
        *([f"cd -- {shlex.quote(cwd)} || exit 126"] if cwd else []),
        *(f"export {_variable(name)}={shlex.quote(value)}" for name, value in (env or {}).items()),
        _READ_FIRST.format(name="up0", path="/proc/uptime"),
        '[ -n "$EPOCHREALTIME" ] || t0=$(date +%s.%N 2>/dev/null)',
        "times >&2",
        f'printf "%s start\\n" {marker} >&2',
        '[ -z "$EPOCHREALTIME" ] || t0=$EPOCHREALTIME',
        (remote_cgroups.joined_command(program) if limited else program) + " </dev/null &",
        "child=$!",
        f'( {sampler_loop("child")}\nprintf "%s usage %s %s %s %s %s %s\\n" {marker} {usage_values()} >&2 ) &',
        "sampler=$!",
        "wait $child",
        "status=$?",
        "t1=$EPOCHREALTIME",
        f'printf "%s end %s\\n" {marker} "$status" >&2',
        *([remote_cgroups.report_script()] if limited else []),
        "times >&2",
        "wait $sampler",
        '[ -n "$t1" ] || t1=$(date +%s.%N 2>/dev/null)',
        _READ_FIRST.format(name="up1", path="/proc/uptime"),
        _READ_FIRST.format(name="load1", path="/proc/loadavg"),
        f'printf "%s clock %s %s %s %s %s\\n" {marker} "$t0" "$t1" "$up0" "$up1" "$load1" >&2',
        *([remote_cgroups.remove_script()] if limited else []),
        "exit $status",
    ]
    return WrappedCommand(marker=marker, script=_in_best_shell("\n".join(lines)))


def kill_tree_command(pid: int) -> str:
    """Kill the process group, the wrapper and every descendant of it.

    Descendants are found from the parent pids in /proc/*/stat (the comm field
    may hold spaces and parentheses, hence the strip up to the last ") ") and
    collected before anything dies, since orphans are re-parented at once.
    """
    script = f"""
table=$(for s in /proc/[0-9]*/stat; do
  {{ read -r line < "$s"; }} 2>/dev/null || continue
  rest=${{line##*") "}}; set -- $rest; p=${{s#/proc/}}; echo "${{p%/stat}} $2"
done)
victims= frontier={pid}
while [ -n "$frontier" ]; do
  next=
  for parent in $frontier; do
    next="$next $(echo "$table" | while read -r child ppid; do [ "$ppid" = "$parent" ] && echo "$child"; done)"
  done
  frontier=$(echo $next); victims="$victims $frontier"
done
kill -KILL -- -{pid} 2>/dev/null; kill -KILL {pid} $victims 2>/dev/null; true"""
    return f"exec /bin/sh -c {shlex.quote(script)}"


def read_report(marker: str, stderr: str) -> Reported:
    """Split the wrapper's header and trailer from the program's stderr and read them."""
    stderr, usage_fields = _take_usage_line(marker, stderr)
    header, started, rest = stderr.partition(f"{marker} start\n")
    pid_line = next((line for line in header.splitlines() if line.startswith(f"{marker} pid ")), "")
    pid_fields = pid_line.split()[2:]
    pid = int(pid_fields[0]) if pid_fields and pid_fields[0].isdigit() else None
    end = rest.rfind(f"{marker} end ")
    if not started or end < 0:
        return Reported(pid=pid, finished=False, stderr=rest if started else "")
    program_stderr, trailer = rest[:end], rest[end:]
    trailer, limits = remote_cgroups.read_limits_report(marker, trailer)
    end_line, _, trailer = trailer.partition("\n")
    times_after, _, clock_line = trailer.rpartition(f"{marker} clock ")
    status = end_line.split()[2] if len(end_line.split()) > 2 else ""
    t0, t1, up0, up1, load_after = (clock_line.split() + [""] * 5)[:5]
    cpu_before, cpu_after = _children_cpu_seconds(header), _children_cpu_seconds(times_after)
    wall = _difference(t0, t1) or _difference(up0, up1)
    cpu = None if cpu_before is None or cpu_after is None else max(cpu_after - cpu_before, 0.0)
    return Reported(
        pid=pid,
        finished=True,
        status=int(status) if status.isdigit() else None,
        wall_seconds=wall,
        cpu_seconds=cpu,
        load_before=_float(pid_fields[1]) if len(pid_fields) > 1 else None,
        load_after=_float(load_after),
        stderr=program_stderr,
        usage=None if usage_fields is None else parse_usage(usage_fields, wall, cpu),
        limits=limits,
    )


def _take_usage_line(marker: str, stderr: str) -> tuple[str, list[str] | None]:
    """The sampler's line may land anywhere after the start (it runs beside the program): take it out."""
    prefix = f"{marker} usage "
    start = stderr.find(prefix)
    if start < 0 or (start > 0 and stderr[start - 1] != "\n"):
        return stderr, None
    end = stderr.find("\n", start)
    if end < 0:
        return stderr, None
    return stderr[:start] + stderr[end + 1 :], stderr[start + len(prefix) : end].split()


def _in_best_shell(script: str) -> str:
    """Run `script` by bash (without its start-up files) if the board has it, else by /bin/sh, in this pid."""
    chooser = (
        'command -v bash >/dev/null 2>&1 && exec bash --norc --noprofile -c "$1" aipep; exec /bin/sh -c "$1" aipep'
    )
    return f"exec /bin/sh -c {shlex.quote(chooser)} aipep {shlex.quote(script)}"


def _variable(name: str) -> str:
    if not _VARIABLE_NAME.fullmatch(name):
        raise UserError(f"env: expected a shell variable name, got {name!r}")
    return name


def _children_cpu_seconds(times_output: str) -> float | None:
    """`times` prints the shell's own user/system times, then its children's; we want the second line."""
    lines = [match for match in map(_TIMES.search, times_output.splitlines()) if match]
    if len(lines) < 2:
        return None
    minutes_user, seconds_user, minutes_system, seconds_system = lines[1].groups()
    return 60 * int(minutes_user) + float(seconds_user) + 60 * int(minutes_system) + float(seconds_system)


def _difference(start: str, stop: str) -> float | None:
    """Seconds between two clock readings, or None when the board could not give both."""
    first, last = _float(start), _float(stop)
    return last - first if first is not None and last is not None and last >= first else None


def _float(text: str) -> float | None:
    """Read a number printed by the board; `$EPOCHREALTIME` uses the locale's decimal comma in some locales."""
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None
