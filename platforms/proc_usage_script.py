"""Resource use of a process on a board or phone, read from its /proc files by a shell loop on the device.

Neither sshd nor adb gives a program's rusage back, so a sampler runs next to it on
the device: every SAMPLE_INTERVAL_S it reads `/proc/<pid>/status` (VmHWM, the
kernel's own high-water mark of resident memory, so a peak between two reads is not
missed; Threads; context switches) and `/proc/<pid>/io`, with shell built-ins only,
until the process is a zombie or gone, then reports the last reading as one line.
The program's CPU time comes from the wrapper's `times`, as before.

It only reads the files of a live process, so a program that ends before the first
read reports nothing; a zombie still has its io and switch counts, not its memory.
"""

from __future__ import annotations

from platforms.resource_usage import ResourceUsage

SAMPLE_INTERVAL_S = 0.1
USAGE_FIELDS = ("hwm_kb", "threads", "voluntary", "involuntary", "read_bytes", "write_bytes")


def sampler_loop(pid_variable: str) -> str:
    """Shell text that polls /proc/$pid_variable and leaves the last readings in u_* variables."""
    pid = f"${pid_variable}"
    return f"""u_hwm=; u_threads=; u_vcs=; u_nvcs=; u_rb=; u_wb=
while :; do
  u_state=
  {{ while read -r u_key u_value u_rest; do
    case $u_key in
      State:) u_state=$u_value ;;
      VmHWM:) u_hwm=$u_value ;;
      Threads:) [ "$u_value" -gt "${{u_threads:-0}}" ] && u_threads=$u_value ;;
      voluntary_ctxt_switches:) u_vcs=$u_value ;;
      nonvoluntary_ctxt_switches:) u_nvcs=$u_value ;;
    esac
  done < /proc/{pid}/status; }} 2>/dev/null
  {{ while read -r u_key u_value; do
    case $u_key in read_bytes:) u_rb=$u_value ;; write_bytes:) u_wb=$u_value ;; esac
  done < /proc/{pid}/io; }} 2>/dev/null
  case $u_state in ''|Z|X) break ;; esac
  sleep {SAMPLE_INTERVAL_S} 2>/dev/null || sleep 1 2>/dev/null || break
done"""


def usage_values() -> str:
    """The u_* readings as printf arguments, `-` for each one never read, in USAGE_FIELDS order."""
    return '"${u_hwm:--}" "${u_threads:--}" "${u_vcs:--}" "${u_nvcs:--}" "${u_rb:--}" "${u_wb:--}"'


def parse_usage(fields: list[str], wall_seconds: float | None, cpu_seconds: float | None) -> ResourceUsage:
    values = dict(zip(USAGE_FIELDS, (_int(text) for text in fields), strict=False))
    hwm_kb = values.get("hwm_kb")
    return ResourceUsage(
        peak_rss_bytes=None if hwm_kb is None else hwm_kb * 1024,
        cpu_seconds=cpu_seconds,
        wall_seconds=wall_seconds,
        voluntary_switches=values.get("voluntary"),
        involuntary_switches=values.get("involuntary"),
        read_bytes=values.get("read_bytes"),
        write_bytes=values.get("write_bytes"),
        threads=values.get("threads"),
    )


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None
