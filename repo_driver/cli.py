"""`repo_driver`: run the service, or `repo_driver status` to see where it stands."""

from __future__ import annotations

import sys

from aipep_core.errors import UserError
from repo_driver import status
from repo_driver.options import parse
from repo_driver.scheduler import Driver
from repo_driver.stopping import EXIT_INTERRUPTED, StopControl


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["status"]:
            return status.main(argv[1:])
        return run(argv)
    except UserError as error:
        print(f"repo_driver: error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:  # Ctrl-C before the stop control is installed, or a second one
        print("repo_driver: interrupted; a restart resumes from the database", file=sys.stderr)
        return EXIT_INTERRUPTED


def run(argv: list[str]) -> int:
    options, job = parse(argv)
    stop = StopControl(options.status_file)
    driver = Driver(options, job, stop)
    stop.start()
    try:
        return driver.run()
    finally:
        stop.close()
