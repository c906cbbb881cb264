"""Which reporters a harness run gets, from its flags."""

from __future__ import annotations

import os
from pathlib import Path

from harness.reporters.base import Reporter
from harness.reporters.isolated import IsolatedReporter
from harness.reporters.local import LocalReporter
from harness.reporters.remote import remote_reporter
from harness.reporters.results_server import ACCESS_TOKEN_ENV
from harness.reporters.screen import ScreenReporter
from harness.reporters.simple_local import SimpleLocalReporter
from harness.reporters.simple_screen import SimpleScreenReporter
from harness.reporters.sqlite import SqliteReporter
from harness.reporters.undelivered import Undelivered


def build_reporters(args, undelivered: Undelivered | None = None) -> list[Reporter]:
    """Screen output by default; the SQLite store unless --no_db; the results server last.

    The server comes after the store, so a result is safe locally before the network is
    tried, and its flags are checked before anything opens; it sends what earlier runs
    queued before this run's first result. Each reporter is isolated: one that cannot
    write is a line and an undelivered result, never the end of the run.
    """
    undelivered = undelivered if undelivered is not None else Undelivered()
    remote = None
    if args.remote_reporter:
        token = args.remote_access_token or os.environ.get(ACCESS_TOKEN_ENV)
        outbox = Path(args.remote_outbox) if args.remote_outbox else None
        remote = remote_reporter(args.remote_reporter, token, outbox, undelivered)
    chosen: list[tuple[Reporter, str]] = []
    chosen_output = args.screen_reporter or args.simple_screen_reporter or args.local_reporter
    if args.screen_reporter or not (chosen_output or args.simple_local_reporter):
        chosen.append((ScreenReporter(), "screen"))
    if args.simple_screen_reporter:
        chosen.append((SimpleScreenReporter(), "--simple_screen_reporter"))
    if args.local_reporter:
        chosen.append((LocalReporter(Path(args.local_reporter)), f"--local_reporter {args.local_reporter}"))
    if args.simple_local_reporter:
        directory = args.simple_local_reporter
        chosen.append((SimpleLocalReporter(Path(directory)), f"--simple_local_reporter {directory}"))
    if not args.no_db:
        chosen.append((SqliteReporter.at(Path(args.db)), f"--db {args.db}"))
    if remote is not None:
        chosen.append((remote, f"--remote_reporter {remote.server.url}"))
        remote.deliver_queued()
    return [IsolatedReporter(reporter, destination, undelivered) for reporter, destination in chosen]
