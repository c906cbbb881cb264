"""Which reporters a harness run gets, from its job."""

from __future__ import annotations

import os
from pathlib import Path

from aipep_core.job import Reporters
from harness.reporters.base import Reporter
from harness.reporters.isolated import IsolatedReporter
from harness.reporters.local import LocalReporter
from harness.reporters.remote import remote_reporter
from harness.reporters.report_files import ReportFilesReporter
from harness.reporters.results_server import ACCESS_TOKEN_ENV
from harness.reporters.screen import ScreenReporter
from harness.reporters.simple_local import SimpleLocalReporter
from harness.reporters.simple_screen import SimpleScreenReporter
from harness.reporters.sqlite import SqliteReporter
from harness.reporters.undelivered import Undelivered


def build_reporters(chosen_reporters: Reporters, undelivered: Undelivered | None = None) -> list[Reporter]:
    """The job's reporters: the SQLite store after the outputs, the results server last.

    The server comes after the store, so a result is safe locally before the network is
    tried, and its settings are checked before anything opens; it sends what earlier runs
    queued before this run's first result. Each reporter is isolated: one that cannot
    write is a line and an undelivered result, never the end of the run.
    """
    undelivered = undelivered if undelivered is not None else Undelivered()
    wanted = chosen_reporters
    remote = None
    if wanted.remote is not None:
        token = wanted.remote.token or os.environ.get(wanted.remote.token_env or ACCESS_TOKEN_ENV)
        outbox = Path(wanted.remote.outbox) if wanted.remote.outbox else None
        remote = remote_reporter(wanted.remote.url, token, outbox, undelivered)
    chosen: list[tuple[Reporter, str]] = []
    if wanted.screen:
        chosen.append((ScreenReporter(), "screen"))
    if wanted.simple_screen:
        chosen.append((SimpleScreenReporter(), "--simple_screen_reporter"))
    if wanted.local_dir:
        chosen.append((LocalReporter(Path(wanted.local_dir)), f"--local_reporter {wanted.local_dir}"))
    if wanted.simple_local_dir:
        directory = wanted.simple_local_dir
        chosen.append((SimpleLocalReporter(Path(directory)), f"--simple_local_reporter {directory}"))
    if wanted.report_dir:
        chosen.append((ReportFilesReporter(Path(wanted.report_dir)), f"--report {wanted.report_dir}"))
    if wanted.db is not None:
        chosen.append((SqliteReporter.at(Path(wanted.db)), f"--db {wanted.db}"))
    if remote is not None:
        chosen.append((remote, f"--remote_reporter {remote.server.url}"))
        remote.deliver_queued()
    return [IsolatedReporter(reporter, destination, undelivered) for reporter, destination in chosen]
