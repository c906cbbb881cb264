"""The interface every platform implements, the options it declares, and what a run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aipep_core.errors import UserError
from aipep_core.run_constraints import RunConstraints
from platforms.resource_usage import ResourceUsage

# The JSON value each option type takes: a job carries platform options as plain JSON.
_OPTION_TYPES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list of strings",
}


@dataclass(frozen=True)
class PlatformOption:
    """One setting a platform takes, declared once: the command lines build their flags from it
    and a job's platform options are checked against it, so no platform option is hard-coded
    elsewhere and none is silently ignored.

    `type` is str, int, float, bool or list (a list of strings, a comma list on the command
    line); `default` is what the platform uses when the option is not given.
    """

    name: str
    type: type
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in _OPTION_TYPES:
            raise TypeError(f"platform option {self.name}: unsupported type {self.type!r}")

    def read(self, value: Any, platform: str) -> Any:
        """`value` as this option's type; a value of another type is the user's one-line mistake."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is list and isinstance(value, tuple):
            value = list(value)
        fits = isinstance(value, self.type) and not (self.type in (int, float) and isinstance(value, bool))
        if self.type is list:
            fits = fits and all(isinstance(item, str) for item in value)
        if not fits:
            raise UserError(f"--{self.name}: expected {_OPTION_TYPES[self.type]}, got {value!r} (platform {platform})")
        if self.choices and value not in self.choices:
            raise UserError(
                f"--{self.name}: expected one of {', '.join(self.choices)}, got {value!r} (platform {platform})"
            )
        return value


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

    `usage` is what the process cost in memory, CPU and I/O, where the platform can tell;
    `out_of_memory` is the one line saying the kernel killed it for a memory limit.
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
    usage: ResourceUsage | None = None
    out_of_memory: str | None = None

    @property
    def stdout_to_parse(self) -> str:
        return self.stdout if self.parse_text is None else self.parse_text

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def failure_summary(self, tail_lines: int = 20) -> str:
        if self.out_of_memory:
            return self.out_of_memory
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

    Every platform is made as `cls(device=..., timeout=..., **options)`: `device` says
    which one (None: the platform's default), `timeout` is a benchmark process's default
    limit in seconds, and `options` are exactly the ones it declares in `options`.
    """

    name: ClassVar[str] = ""
    options: ClassVar[tuple[PlatformOption, ...]] = ()
    # Why two of this platform's processes cannot run at once (None: they can). Duet and
    # alternating rounds run both arms together; here they run sequential rounds, saying this.
    why_not_at_once: ClassVar[str | None] = None

    @classmethod
    def check_options(cls, given: dict[str, Any]) -> dict[str, Any]:
        """`given` read against the declarations; an option this platform does not declare is a
        one-line UserError naming it and the platform, never ignored. None is "not given": the
        platform's default."""
        declared = {option.name: option for option in cls.options}
        for name in given:
            if name not in declared:
                known = ", ".join(f"--{option}" for option in declared) or "none"
                raise UserError(f"--{name}: not an option of platform {cls.name} (its options: {known})")
        return {name: declared[name].read(value, cls.name) for name, value in given.items() if value is not None}

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
        constraints: RunConstraints | None = None,
    ) -> ProcessResult:
        """`constraints`: limits the process must run under; a platform that cannot enforce them raises UserError."""
        raise NotImplementedError

    def cpu_ids(self) -> list[int] | None:
        """The CPUs a benchmark process may run on, for rounds that give each arm its own; None: not known,
        and then no round is pinned by aipep."""
        return None

    def refuse_constraints(self, constraints: RunConstraints | None) -> None:
        """For a platform that cannot enforce constraints: a run that asks for them is refused, never run unlimited."""
        if constraints is not None:
            raise UserError(
                f"constraints: platform {self.name} cannot enforce them (cgroups are applied on the host and on "
                "SSH boards); run the test on --platform host or ssh, or remove its constraints"
            )

    def close(self) -> None:
        """Release connections and locks."""
