"""A test's constraints on a board: the shell text that puts one run under cgroups there, and what it reports.

The board is reached only through its shell, so the host's cgroup code
(platforms/cgroup_limits.py) cannot run there; the same steps are done by the run's
wrapper script with shell built-ins, in the same trip through sshd as the program:
find the cgroup v2 mount (or, failing that, the v1 hierarchy of each controller needed),
remove empty aipep cgroups a killed run left there more than a minute ago, create one
cgroup per run, write the limits, let the program's own subshell join it just before it
executes the program (so every descendant is born inside), and afterwards read the
out-of-memory kills and the peak, end what is left inside, and remove the cgroup.

Every value reaches the board as a quoted shell word: `cpus` and `memory_mb` become
integers here, `cpuset` is passed through `shlex.quote`. Where the login user may not
create cgroups, the script reports why on a marked line and the run is refused in one
line, never run unlimited.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from aipep_core.run_constraints import RunConstraints
from platforms.cgroup_limits import CGROUP_PREFIX, CPU_PERIOD_US, needed_controllers

# The wrapper's exit status when the cgroups could not be made; the program never started.
REFUSED_STATUS = 125
HOW_TO_GET = (
    "log in to the board as root (user@ in --device) or as a user with a cgroup delegated to it, "
    "on a board with the cpu, cpuset and memory controllers and /sys/fs/cgroup writable"
)
_MB = 1024 * 1024
# Seconds a cgroup's last members may take to exit before the cgroup can be removed.
REMOVE_TRIES = 50

_FUNCTIONS = r"""
cg_has() {
  cg_words=; { read -r cg_words < "$1"; } 2>/dev/null
  case " $cg_words " in *" $2 "*) return 0 ;; esac
  return 1
}
cg_refuse() { printf '%s refuse %s\n' "$cg_marker" "$1" >&2; exit REFUSED_STATUS; }
cg_clean() {
  find "$1" -maxdepth 1 -type d -name 'PREFIX*' -mmin +1 -exec rmdir {} \; 2>/dev/null
}
cg_write() {
  { printf '%s\n' "$2" > "$cg_dir/$1"; } 2>/dev/null || cg_refuse "constraints.$3: the board's kernel refused $2 for $1"
}
cg_try_v2() {
  [ -n "$1" ] && [ -d "$1" ] || return 1
  for c in $cg_needed; do cg_has "$1/cgroup.controllers" "$c" || return 1; done
  for c in $cg_needed; do
    cg_has "$1/cgroup.subtree_control" "$c" || { echo "+$c" > "$1/cgroup.subtree_control"; } 2>/dev/null
    cg_has "$1/cgroup.subtree_control" "$c" || {
      cg_v2_why="the login user may not enable the $c controller in $1/cgroup.subtree_control"
      return 1
    }
  done
  cg_clean "$1"
  mkdir "$1/$cg_name" 2>/dev/null || { cg_v2_why="the login user may not create a cgroup in $1"; return 1; }
  cg_dir=$1/$cg_name cg_version=2 cg_dirs=$1/$cg_name
  [ -z "$cg_quota" ] || cg_write cpu.max "$cg_quota $cg_period" cpus
  [ -z "$cg_cpuset" ] || cg_write cpuset.cpus "$cg_cpuset" cpuset
  if [ -n "$cg_memory" ]; then
    cg_write memory.max "$cg_memory" memory_mb
    { echo 0 > "$cg_dir/memory.swap.max"; } 2>/dev/null
    cg_memory_dir=$cg_dir
  fi
}
cg_v1_parent() {
  cg_mount=; cg_path=
  while read -r cg_dev cg_point cg_type cg_options cg_rest; do
    [ "$cg_type" = cgroup ] || continue
    case ",$cg_options," in *",$1,"*) cg_mount=$cg_point; break ;; esac
  done < /proc/self/mounts
  while IFS=: read -r cg_id cg_list cg_own; do
    case ",$cg_list," in *",$1,"*) cg_path=$cg_own; break ;; esac
  done < /proc/self/cgroup
  cg_missing="${cg_v2_why:-no cgroup $1 controller} (neither cgroup v2 nor v1)"
  [ -n "$cg_mount" ] && [ -n "$cg_path" ] || cg_refuse \
    "constraints: cannot enforce them on this board: $cg_missing; $cg_how"
  cg_parent=${cg_mount%/}/${cg_path#/}
  cg_parent=${cg_parent%/}
}
cg_v1() {
  cg_version=1
  for c in $cg_needed; do
    cg_v1_parent "$c"
    cg_clean "$cg_parent"
    mkdir "$cg_parent/$cg_name" 2>/dev/null || cg_refuse \
      "constraints: cannot enforce them on this board: the login user may not create a $c cgroup in $cg_parent; $cg_how"
    cg_dir=$cg_parent/$cg_name
    cg_dirs="$cg_dirs${cg_dirs:+$cg_nl}$cg_dir"
    case $c in
      cpu) cg_write cpu.cfs_period_us "$cg_period" cpus; cg_write cpu.cfs_quota_us "$cg_quota" cpus ;;
      cpuset)
        cg_mems=; { read -r cg_mems < "$cg_parent/cpuset.mems"; } 2>/dev/null
        cg_write cpuset.mems "${cg_mems:-0}" cpuset; cg_write cpuset.cpus "$cg_cpuset" cpuset ;;
      memory)
        cg_write memory.limit_in_bytes "$cg_memory" memory_mb
        { echo "$cg_memory" > "$cg_dir/memory.memsw.limit_in_bytes"; } 2>/dev/null
        { echo 0 > "$cg_dir/memory.swappiness"; } 2>/dev/null
        cg_memory_dir=$cg_dir ;;
    esac
  done
}
cg_join() {
  cg_old_ifs=$IFS; IFS=$cg_nl
  for cg_d in $cg_dirs; do
    { echo 0 > "$cg_d/cgroup.procs"; } 2>/dev/null || cg_refuse \
      "constraints: cannot enforce them on this board: the login user may not move a process into $cg_d; $cg_how"
  done
  IFS=$cg_old_ifs
}
cg_report() {
  cg_oom=; cg_peak=
  if [ -n "$cg_memory_dir" ]; then
    if [ "$cg_version" = 2 ]; then cg_events=memory.events cg_peak_file=memory.peak
    else cg_events=memory.oom_control cg_peak_file=memory.max_usage_in_bytes; fi
    { while read -r cg_key cg_value; do [ "$cg_key" = oom_kill ] && cg_oom=$cg_value; done \
      < "$cg_memory_dir/$cg_events"; } 2>/dev/null
    { read -r cg_peak < "$cg_memory_dir/$cg_peak_file"; } 2>/dev/null
  fi
  printf '%s limits %s %s\n' "$cg_marker" "${cg_oom:--}" "${cg_peak:--}" >&2
}
cg_remove() {
  cg_old_ifs=$IFS; IFS=$cg_nl
  for cg_d in $cg_dirs; do
    { echo 1 > "$cg_d/cgroup.kill"; } 2>/dev/null
    cg_tries=0
    until rmdir "$cg_d" 2>/dev/null || [ ! -d "$cg_d" ] || [ $cg_tries -ge REMOVE_TRIES ]; do
      { while read -r cg_member; do kill -KILL "$cg_member"; done < "$cg_d/cgroup.procs"; } 2>/dev/null
      sleep 0.1 2>/dev/null || sleep 1
      cg_tries=$((cg_tries + 1))
    done
  done
  IFS=$cg_old_ifs
}
"""


@dataclass(frozen=True)
class BoardLimitsReport:
    """What the board's kernel said about a run's memory cgroup once the program had ended."""

    out_of_memory_kills: int | None
    peak_memory_bytes: int | None


def setup_script(constraints: RunConstraints, marker: str, name: str) -> str:
    """Shell text that makes the run's cgroups (named `name`) and writes the limits, or exits REFUSED_STATUS
    after a marked refusal line; the cgroup directories are announced on a marked line for a later kill."""
    assignments = {
        "cg_marker": marker,
        "cg_name": name,
        "cg_needed": " ".join(needed_controllers(constraints)),
        "cg_quota": "" if constraints.cpus is None else str(round(constraints.cpus * CPU_PERIOD_US)),
        "cg_period": str(CPU_PERIOD_US),
        "cg_cpuset": constraints.cpuset or "",
        "cg_memory": "" if constraints.memory_mb is None else str(constraints.memory_mb * _MB),
        "cg_how": HOW_TO_GET,
    }
    functions = (
        _FUNCTIONS.replace("REFUSED_STATUS", str(REFUSED_STATUS))
        .replace("REMOVE_TRIES", str(REMOVE_TRIES))
        .replace("PREFIX", CGROUP_PREFIX)
    )
    return "\n".join(
        [
            *(f"{variable}={shlex.quote(value)}" for variable, value in assignments.items()),
            "cg_nl='\n'",
            "cg_dir= cg_dirs= cg_version= cg_memory_dir= cg_v2_why=",
            functions,
            "cg_v2_mount=",
            "while read -r cg_dev cg_point cg_type cg_rest; do "
            '[ "$cg_type" = cgroup2 ] && { cg_v2_mount=${cg_point%/}; break; }; done < /proc/self/mounts',
            "cg_v2_own=",
            'while IFS=: read -r cg_id cg_list cg_own; do [ "$cg_id" = 0 ] && cg_v2_own=${cg_own#/}; done '
            "< /proc/self/cgroup",
            'cg_try_v2 "${cg_v2_mount:+$cg_v2_mount/$cg_v2_own}" || cg_try_v2 "$cg_v2_mount" || cg_v1',
            'printf "%s cgroups %s\\n" "$cg_marker" "$(echo $cg_dirs)" >&2',
        ]
    )


def joined_command(program: str) -> str:
    """`program` (shell words) started in a subshell that first joins the run's cgroups."""
    return f"( cg_join; exec {program} )"


def report_script() -> str:
    return "cg_report"


def remove_script() -> str:
    return "cg_remove"


def read_refusal(marker: str, stderr: str) -> str | None:
    """The one-line reason the board could not make the run's cgroups, or None."""
    prefix = f"{marker} refuse "
    for line in stderr.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :]
    return None


def read_limits_report(marker: str, stderr: str) -> tuple[str, BoardLimitsReport | None]:
    """Take the `limits` line out of the wrapper's trailer and read it."""
    prefix = f"{marker} limits "
    start = stderr.find(prefix)
    if start < 0:
        return stderr, None
    end = stderr.find("\n", start)
    end = len(stderr) if end < 0 else end + 1
    fields = (stderr[start + len(prefix) : end].split() + ["-", "-"])[:2]
    kills, peak = (int(text) if text.isdigit() else None for text in fields)
    return stderr[:start] + stderr[end:], BoardLimitsReport(out_of_memory_kills=kills, peak_memory_bytes=peak)


def read_cgroup_dirs(marker: str, stderr: str) -> list[str]:
    """The run's cgroup directories as the board announced them, for removing them after a kill."""
    prefix = f"{marker} cgroups "
    for line in stderr.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].split()
    return []


def remove_after_kill_command(directories: list[str]) -> str:
    """Remove a killed run's cgroups from a second channel (its wrapper died with the program)."""
    quoted = " ".join(shlex.quote(directory) for directory in directories)
    script = (
        f'for d in {quoted}; do n=0; until rmdir "$d" 2>/dev/null || [ ! -d "$d" ] || [ $n -ge {REMOVE_TRIES} ]; '
        'do { while read -r p; do kill -KILL "$p"; done < "$d/cgroup.procs"; } 2>/dev/null; '
        "sleep 0.1 2>/dev/null || sleep 1; n=$((n + 1)); done; done; true"
    )
    return f"exec /bin/sh -c {shlex.quote(script)}"
