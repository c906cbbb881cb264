"""The driver's own flags (FAI-PEP's names); every other flag belongs to the harness, whose
parser turns them into the base Job of every run.

Both parsers run at start, so a mistake in either is reported before anything is
fetched or built.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from aipep_core.errors import UserError
from aipep_core.job import Job
from aipep_core.user_dirs import cache_dir
from harness.cli_args import parse_job, split_list
from platforms.registry import check_platform_options, platform_class

DEFAULT_FRAMEWORKS_DIR = Path(__file__).resolve().parent.parent / "specifications" / "frameworks"


@dataclass(frozen=True)
class DriverOptions:
    repo_dir: Path
    branch: str | None
    remote: str | None
    commit: str | None
    commit_file: Path | None
    step: int
    interval: float | None
    status_file: Path | None
    exec_dir: Path
    framework: str
    frameworks_dir: Path
    platforms: tuple[str, ...]
    same_host: bool
    ab_testing: bool
    base_commit: str | None
    weekly_base: bool
    regression: bool
    build_timeout: float
    db: Path
    fail_on_regression: bool
    lab_broker: str | None = None
    lab_kinds: dict[str, str] = field(default_factory=dict)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UserError(f"command line: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="repo_driver",
        allow_abbrev=False,
        description="Follow a repository: build each new commit, A/B it against its control, name culprits. "
        "Flags not listed here go to the harness (-b is required there). `repo_driver status` prints the state.",
    )
    parser.add_argument("--repo_dir", required=True, type=Path, help="checkout of the framework's repository")
    parser.add_argument("--repo", default="git", help="version control system; only git")
    parser.add_argument("--branch", help="branch to follow (default: the checkout's current branch)")
    parser.add_argument("--remote_repository", help="remote to fetch (default: origin when there is one)")
    parser.add_argument("--commit", help="first commit to process when nothing was processed before (default: tip)")
    parser.add_argument("--commit_file", type=Path, help="file holding the last processed commit; updated as we go")
    parser.add_argument("--step", type=int, default=1, help="benchmark every step-th new commit; bisect the gaps")
    parser.add_argument("--interval", type=float, help="seconds between polls; without it, one pass then exit")
    parser.add_argument("--status_file", type=Path, help="the service runs while this file holds 1; write 0 to stop")
    parser.add_argument("--exec_dir", type=Path, default=cache_dir() / "exec", help="cache of built programs")
    parser.add_argument("--framework", required=True, help="framework name: build scripts and harness plug-in")
    parser.add_argument(
        "--frameworks_dir", type=Path, default=DEFAULT_FRAMEWORKS_DIR, help="holds <framework>/<platform>/build.sh"
    )
    parser.add_argument("--platforms", default="host", help="comma list of platforms to build for and run on")
    parser.add_argument("--same_host", action="store_true", help="never build while a benchmark runs")
    parser.add_argument("--ab_testing", action="store_true", help="run each commit A/B against its control")
    parser.add_argument("--base_commit", help="fixed control commit (default: the previous benchmarked commit)")
    parser.add_argument("--weekly_base", action="store_true", help="control: the first commit of the week (FAI-PEP)")
    parser.add_argument("--regression", action="store_true", help="verify regressions and bisect them to a culprit")
    parser.add_argument("--build_timeout", type=float, default=3600.0, help="seconds one build may take")
    parser.add_argument("--lab_broker", metavar="URL", help="run every A/B as a device-lab job through this broker")
    parser.add_argument(
        "--lab_devices",
        default="",
        metavar="PLATFORM=KIND,...",
        help="the device kind each platform's jobs go to with --lab_broker (default: the platform's name)",
    )
    return parser


def parse(argv: list[str]) -> tuple[DriverOptions, Job]:
    """The driver's options, and the base job of every harness run (built once, from the flags
    the driver does not know)."""
    known, rest = build_parser().parse_known_args(argv)
    if known.repo != "git":
        raise UserError(f"--repo: expected git, got {known.repo}")
    if known.step < 1:
        raise UserError(f"--step: expected an integer >= 1, got {known.step}")
    if known.interval is not None and known.interval <= 0:
        raise UserError(f"--interval: expected seconds > 0, got {known.interval:g}")
    platforms = tuple(split_list(known.platforms))
    if not platforms:
        raise UserError("--platforms: expected a comma list of platforms, got nothing")
    if known.base_commit and known.weekly_base:
        raise UserError("--weekly_base: expected either it or --base_commit, got both")
    job = parse_job([*rest, "--framework", known.framework])
    _check_platform_options(job, platforms)
    if job.reporters.db is None:
        raise UserError("--no_db: the repo driver keeps its state and results in the database; expected --db or none")
    lab_kinds = _lab_kinds(known.lab_devices, platforms)
    if known.lab_broker and job.reporters.remote is None:
        raise UserError("--lab_broker: expected --remote_reporter, where lab jobs' files and results go")
    options = DriverOptions(
        repo_dir=known.repo_dir.expanduser().resolve(),
        branch=known.branch,
        remote=known.remote_repository,
        commit=known.commit,
        commit_file=known.commit_file,
        step=known.step,
        interval=known.interval,
        status_file=known.status_file,
        exec_dir=known.exec_dir.expanduser().resolve(),
        framework=known.framework,
        frameworks_dir=known.frameworks_dir.expanduser().resolve(),
        platforms=platforms,
        same_host=known.same_host,
        ab_testing=known.ab_testing,
        base_commit=known.base_commit,
        weekly_base=known.weekly_base,
        regression=known.regression,
        build_timeout=known.build_timeout,
        db=Path(job.reporters.db).expanduser(),
        fail_on_regression=job.fail_on_regression,
        lab_broker=known.lab_broker,
        lab_kinds=lab_kinds,
    )
    return options, job


def _lab_kinds(text: str, platforms: tuple[str, ...]) -> dict[str, str]:
    kinds = {}
    for entry in split_list(text):
        platform, separator, kind = entry.partition("=")
        if not separator or platform.strip() not in platforms or not kind.strip():
            raise UserError(f"--lab_devices: expected PLATFORM=KIND with a platform of --platforms, got {entry!r}")
        kinds[platform.strip()] = kind.strip()
    return kinds


def _check_platform_options(job: Job, platforms: tuple[str, ...]) -> None:
    """Each platform option given must be taken by one of --platforms (each run passes a
    platform only its own), with the type that platform declares."""
    for option, value in job.platform.options.items():
        takers = [name for name in platforms if option in {declared.name for declared in platform_class(name).options}]
        if not takers:
            raise UserError(f"--{option}: not an option of any platform in --platforms ({', '.join(platforms)})")
        check_platform_options(takers[0], {option: value})
