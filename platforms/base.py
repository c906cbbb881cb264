"""The interface every platform implements, and what a run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class ProcessResult:
    """What one benchmark process did, with enough detail to judge the round.

    `cpu_seconds` next to `wall_seconds` lets the A/B runner notice a round in
    which the process waited for a CPU that someone else was using.

    `stdout` and `stderr` are what the logs keep: everything, or for a program that
    printed more than platforms/bounded_output.py allows, its head and tail around a
    line saying how much was left out. `parse_text` is then what the parser reads
    instead of `stdout`: the same head and tail with the measurement lines of the
    left-out part between them.
    """

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    wall_seconds: float
    cpu_seconds: float | None = None
    timed_out: bool = False
    started_at: float = 0.0
    load_before: float | None = None
    load_after: float | None = None
    parse_text: str | None = None

    @property
    def stdout_to_parse(self) -> str:
        return self.stdout if self.parse_text is None else self.parse_text

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure_summary(self, tail_lines: int = 20) -> str:
        if self.timed_out:
            head = f"timed out after {self.wall_seconds:.1f} s"
        else:
            head = f"exited with status {self.returncode}"
        tail = "\n".join(self.stderr.splitlines()[-tail_lines:])
        return f"{head}; stderr tail:\n{tail}" if tail else head


@dataclass
class DeviceDescription:
    """What the device was, recorded with every result."""

    platform: str
    identifier: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "identifier": self.identifier, **self.details}


class Platform:
    """A device on which benchmark programs run.

    Files are pushed before a run and pulled after; for the host both are
    identity operations, for SSH and Android they copy only what changed.
    """

    name: ClassVar[str] = ""

    def prepare(self) -> None:
        """Check the device is reachable and healthy; raise UserError if not."""

    def describe(self) -> DeviceDescription:
        raise NotImplementedError

    def push(self, local: Path) -> str:
        """Make a local file available on the device; return its device path."""
        raise NotImplementedError

    def pull(self, remote: str, local: Path) -> None:
        raise NotImplementedError

    def work_dir(self, name: str) -> str:
        """A fresh directory on the device where a program may write outputs."""
        raise NotImplementedError

    def run(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
        platform_args: dict[str, Any] | None = None,
    ) -> ProcessResult:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections and locks."""
