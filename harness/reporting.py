"""Which reporters a harness run gets, from its flags."""

from __future__ import annotations

from pathlib import Path

from harness.reporters.base import Reporter
from harness.reporters.local import LocalReporter
from harness.reporters.screen import ScreenReporter
from harness.reporters.simple_local import SimpleLocalReporter
from harness.reporters.simple_screen import SimpleScreenReporter
from harness.reporters.sqlite import SqliteReporter
from harness.store.result_store import ResultStore


def build_reporters(args) -> list[Reporter]:
    """Screen output by default; the SQLite store unless --no_db."""
    reporters: list[Reporter] = []
    chosen_output = args.screen_reporter or args.simple_screen_reporter or args.local_reporter
    if args.screen_reporter or not (chosen_output or args.simple_local_reporter):
        reporters.append(ScreenReporter())
    if args.simple_screen_reporter:
        reporters.append(SimpleScreenReporter())
    if args.local_reporter:
        reporters.append(LocalReporter(Path(args.local_reporter)))
    if args.simple_local_reporter:
        reporters.append(SimpleLocalReporter(Path(args.simple_local_reporter)))
    if not args.no_db:
        reporters.append(SqliteReporter(ResultStore(Path(args.db))))
    return reporters
