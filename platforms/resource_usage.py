"""What one benchmark process cost besides time: memory, CPU, context switches, I/O.

A commit that keeps latency but doubles peak memory breaks a phone app as surely as a
slow one, so every platform reports these next to the program's own measurements and
the harness turns them into `PROCESS <metric>` entries that get verdicts like latency.
"""

from __future__ import annotations

from dataclasses import dataclass

_MB = 1024.0 * 1024.0


@dataclass(frozen=True)
class ResourceUsage:
    """One process (with what it started and waited for); None where the platform could not tell.

    `read_bytes` and `write_bytes` are what reached the storage layer (the kernel's
    /proc/<pid>/io), so a program that re-reads a cached model counts nothing.
    `cpu_seconds` is user plus system time; `threads` is the most seen at once while sampling.
    """

    peak_rss_bytes: int | None = None
    cpu_seconds: float | None = None
    wall_seconds: float | None = None
    voluntary_switches: int | None = None
    involuntary_switches: int | None = None
    read_bytes: int | None = None
    write_bytes: int | None = None
    threads: int | None = None

    def metrics(self) -> dict[str, float]:
        """metric name -> value in the unit of aipep_core.resource_metrics; unknown ones are left out."""
        cpu = self.cpu_seconds
        values: dict[str, float | None] = {
            "peak_rss": None if self.peak_rss_bytes is None else self.peak_rss_bytes / _MB,
            "cpu_time": None if cpu is None else cpu * 1000.0,
            "cpu_util": None if cpu is None or not self.wall_seconds else 100.0 * cpu / self.wall_seconds,
            "ctx_switches": _sum(self.voluntary_switches, self.involuntary_switches),
            "read_bytes": self.read_bytes,
            "write_bytes": self.write_bytes,
            "threads": self.threads,
        }
        return {name: float(value) for name, value in values.items() if value is not None}


def _sum(first: int | None, second: int | None) -> int | None:
    return None if first is None or second is None else first + second


def read_proc_io(text: str) -> tuple[int | None, int | None]:
    """(read_bytes, write_bytes) from the text of /proc/<pid>/io."""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return _int(fields.get("read_bytes")), _int(fields.get("write_bytes"))


def read_proc_status_kb(text: str, field: str) -> int | None:
    """A `Name:  123 kB` (or plain count) field of /proc/<pid>/status."""
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return _int(value.split()[0] if value.split() else None)
    return None


def _int(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None
