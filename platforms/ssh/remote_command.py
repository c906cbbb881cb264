"""The shell text that runs one benchmark process on a board, and reading back what it reported.

sshd hands a command to the user's login shell, so every argument, variable
and directory is quoted with `shlex.quote`: a spec value like `x; rm -rf ~`
arrives as one literal argument. The command is run by `/bin/sh` whatever the
login shell is.

OpenSSH and Dropbear start each command in a new session, so the wrapper
shell's pid is also its process group: killing that group (plus any
descendant found through /proc that moved to a group of its own) ends the
whole tree. The wrapper reports, on stderr and behind a per-run random
marker, its pid first and, after the program ends, its exit status and the
`times` builtin's line for waited-for children: the program's user and system
CPU time without needing /usr/bin/time on the board.
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass

from harness.errors import UserError

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TIMES = re.compile(r"(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s")


@dataclass(frozen=True)
class WrappedCommand:
    marker: str
    script: str


@dataclass(frozen=True)
class Reported:
    """What the wrapper said about the program, separated from the program's own stderr."""

    pid: int | None
    load_before: float | None
    finished: bool
    status: int | None
    cpu_seconds: float | None
    load_after: float | None
    stderr: str


def wrap(argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> WrappedCommand:
    if not argv:
        raise UserError("command: expected a program and its arguments, got an empty command")
    marker = f"aipep-{secrets.token_hex(8)}"
    lines = [
        _load_line(marker, "pid $$"),
        *([f"cd -- {shlex.quote(cwd)} || exit 126"] if cwd else []),
        *(f"export {_variable(name)}={shlex.quote(value)}" for name, value in (env or {}).items()),
        " ".join(shlex.quote(arg) for arg in argv) + " </dev/null",
        "status=$?",
        _load_line(marker, "end $status"),
        "times >&2",
        "exit $status",
    ]
    script = "\n".join(lines)
    return WrappedCommand(marker=marker, script=f"exec /bin/sh -c {shlex.quote(script)}")


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
    start_tag, end_tag = f"{marker} pid ", f"{marker} end "
    pid = load_before = status = cpu = load_after = None
    body = stderr
    if body.startswith(start_tag):
        first, _, body = body.partition("\n")
        pid, load_before = _pid_and_load(first[len(start_tag) :])
    end = body.rfind(end_tag)
    finished = end >= 0
    if finished:
        tail = body[end + len(end_tag) :]
        body = body[:end]
        head, _, times = tail.partition("\n")
        fields = head.split()
        status = int(fields[0]) if fields and fields[0].isdigit() else None
        load_after = _float(fields[1]) if len(fields) > 1 else None
        cpu = _children_cpu_seconds(times)
    return Reported(pid, load_before, finished, status, cpu, load_after, body)


def _load_line(marker: str, what: str) -> str:
    """Print `<marker> <what> <1-minute load>` to stderr, reading /proc/loadavg without forking."""
    return (
        "load=; { read -r load rest < /proc/loadavg; } 2>/dev/null; "
        f'printf "%s %s\\n" {shlex.quote(marker)} "{what} $load" >&2'
    )


def _variable(name: str) -> str:
    if not _VARIABLE_NAME.fullmatch(name):
        raise UserError(f"env: expected a shell variable name, got {name!r}")
    return name


def _pid_and_load(text: str) -> tuple[int | None, float | None]:
    fields = text.split()
    pid = int(fields[0]) if fields and fields[0].isdigit() else None
    return pid, _float(fields[1]) if len(fields) > 1 else None


def _children_cpu_seconds(times_output: str) -> float | None:
    """`times` prints the shell's own user/system times, then its children's; we want the second line."""
    lines = [line for line in times_output.splitlines() if _TIMES.search(line)]
    if len(lines) < 2:
        return None
    minutes_user, seconds_user, minutes_system, seconds_system = _TIMES.search(lines[1]).groups()
    return 60 * int(minutes_user) + float(seconds_user) + 60 * int(minutes_system) + float(seconds_system)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
