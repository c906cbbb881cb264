"""One JSON line per result on a stream, for scripts that read the harness's output."""

from __future__ import annotations

import sys
from typing import TextIO

from aipep_core.result_record import RunResult
from aipep_core.strict_json import strict_json
from harness.reporters.base import Reporter


class SimpleScreenReporter(Reporter):
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout

    def report(self, result: RunResult) -> None:
        print(strict_json(result.to_json()), file=self.stream, flush=True)
