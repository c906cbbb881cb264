"""The reporter interface: every destination of results takes them one at a time."""

from __future__ import annotations

from aipep_core.result_record import RunResult


class Reporter:
    """Receives each finished result as soon as it exists, so a later crash loses nothing already reported."""

    def report(self, result: RunResult) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release files or connections; called once after the last result."""
