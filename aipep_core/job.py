"""The job: what one harness run is asked to do, as one typed value.

The harness's command line, aipep-bench and the repo driver each say "run these specs,
these arms, on this device, with these options"; the device lab will send the same
sentence through a message broker. So it is one frozen dataclass tree that every caller
builds and the harness reads, and it goes to JSON and back without loss (`to_json`,
`from_json`), checked field by field on the way in.

Conventions, so that a job means the same on every host:
- Paths are `str`, as the caller gave them (never `Path`): a relative path is relative to
  the working directory of the process that runs the job, `~` is not expanded.
- `None` means "not given": the spec's value, or the default where the job runs.
- Platform options and per-arm options are plain JSON values; the platform checks its own
  options against what it declares, and refuses the ones it does not take.
- The results-server token may be given here (`token`) for a run on the same machine; a
  job that leaves it should name the environment variable instead (`token_env`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aipep_core.errors import UserError
from aipep_core.names import CONTROL, TREATMENT
from aipep_core.plain_json import from_plain, to_plain

JOB_VERSION = 1
DEFAULT_TIMEOUT_S = 600.0


class RunType(StrEnum):
    """`verify` runs the arms in reversed order, to confirm a regression a first run found."""

    BENCHMARK = "benchmark"
    VERIFY = "verify"


class RunStopped(Exception):
    """A stop was asked for while the job ran: what it was doing is dropped, not a result."""


@dataclass(frozen=True)
class Arm:
    """One arm: the program (a binary, or an interpreter) and the commit it was built from.

    `program` None is the framework's default program; `options` are per-arm settings, kept
    in the result's meta: a model variant is `optimizers` (a list of optimizer objects, in
    place of the test's) and/or `model` (a model file in place of the spec's). `program_md5` names the program
    as an artifact on the results server, as the option `model_md5` names the arm's model file: a lab worker
    runs only what it fetched by md5.
    `string_map` is the arm's own FAI-PEP string map (`--info`'s per-arm `string_map`): its
    values fill `{NAME}` when this arm runs, over the job's `string_map`.
    """

    name: str
    program: str | None = None
    commit: str = "unknown"
    commit_time: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    program_md5: str | None = None
    string_map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Arms:
    """The treatment alone is a plain benchmark; with a control it is an interleaved A/B run."""

    treatment: Arm = field(default_factory=lambda: Arm(TREATMENT))
    control: Arm | None = None

    def __post_init__(self) -> None:
        if self.treatment.name != TREATMENT:
            raise UserError(f"arms.treatment.name: expected {TREATMENT!r}, got {self.treatment.name!r}")
        if self.control is not None and self.control.name != CONTROL:
            raise UserError(f"arms.control.name: expected {CONTROL!r}, got {self.control.name!r}")

    def string_map_names(self) -> frozenset[str]:
        """The tokens an arm gives its own value: the specs keep them for the arms to fill."""
        return frozenset(name for arm in self.all() for name in arm.string_map)

    def all(self) -> list[Arm]:
        return [self.treatment] if self.control is None else [self.treatment, self.control]


@dataclass(frozen=True)
class PlatformSelection:
    """Where to run: a platform, its devices (none: its default one) and the options it declares."""

    name: str = "host"
    devices: tuple[str, ...] = ()
    excluded_devices: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSettings:
    """How each test is run and decided; None keeps each test's own value from its spec."""

    regression_threshold: float | None = None
    alpha: float | None = None
    min_rounds: int | None = None
    max_rounds: int | None = None
    round_statistic: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    run_type: RunType = RunType.BENCHMARK
    min_abs_change_us: float | None = None
    round_design: str | None = None
    stop_when: str | None = None


@dataclass(frozen=True)
class ModelCacheOptions:
    """Where model files are kept; `directory` None is the user's cache dir where the job runs."""

    directory: str | None = None
    root_model_dir: str | None = None
    max_download_mb: float | None = None


@dataclass(frozen=True)
class RemoteReporter:
    """A results server; what it cannot take now waits in `outbox` (None: a folder per server)."""

    url: str
    outbox: str | None = None
    token: str | None = field(default=None, repr=False)
    token_env: str | None = None


@dataclass(frozen=True)
class Reporters:
    """Where each result goes; `db` None stores nothing in SQLite; `report_dir` gets an HTML report per result."""

    screen: bool = False
    simple_screen: bool = False
    local_dir: str | None = None
    simple_local_dir: str | None = None
    report_dir: str | None = None
    db: str | None = None
    remote: RemoteReporter | None = None


@dataclass(frozen=True)
class Labels:
    """What the caller wants kept in every result's meta, written before any reporter sees it."""

    user_identifier: str | None = None
    driver_role: str | None = None


@dataclass(frozen=True)
class Job:
    """One harness run: every test of `specs`, on every selected device.

    `fail_on_regression` is how the caller judges the outcome (the command line's exit
    status 3, the repo driver's); it changes nothing in how the job runs.
    `job_id` makes the ids of the job's results a function of the job, so a job that is
    run again (a lab worker died under it) produces the same ids and the server keeps each
    result once. `spec_md5s` name `specs`, in order, as artifacts on the results server.
    `string_map` (FAI-PEP's `--string_map`) gives the values of `{NAME}` tokens in the specs.
    """

    specs: tuple[str, ...]
    arms: Arms = field(default_factory=Arms)
    framework: str | None = None
    platform: PlatformSelection = field(default_factory=PlatformSelection)
    settings: RunSettings = field(default_factory=RunSettings)
    model_cache: ModelCacheOptions = field(default_factory=ModelCacheOptions)
    reporters: Reporters = field(default_factory=Reporters)
    labels: Labels = field(default_factory=Labels)
    fail_on_regression: bool = False
    spec_md5s: tuple[str, ...] = ()
    job_id: str | None = None
    string_map: dict[str, str] = field(default_factory=dict)

    def result_id(self, spec_index: int, identifier: str, device_index: int) -> str | None:
        """The id of one test's result on one device of this job; None (a fresh one) without a job_id."""
        if self.job_id is None:
            return None
        return uuid.uuid5(uuid.NAMESPACE_URL, f"aipep-job:{self.job_id}/{spec_index}/{identifier}/{device_index}").hex

    def to_json(self) -> str:
        return json.dumps({"job_version": JOB_VERSION, **to_plain(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Job:
        """The job `text` holds; a malformed one is a one-line UserError naming the field."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"job: expected JSON, {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        if not isinstance(document, dict):
            raise UserError("job: expected a JSON object")
        version = document.pop("job_version", None)
        if version != JOB_VERSION:
            raise UserError(f"job.job_version: expected {JOB_VERSION}, got {version!r}")
        return from_plain(cls, document, "job")
