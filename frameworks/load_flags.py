"""The flags a test's `scenario` and `cold_start` add to a shipped bench program's command.

Every bench program that has a load mode reads the same flags (frameworks/load_program/
loadgen_runner.py), so every framework that ships one adds them the same way.
"""

from __future__ import annotations

from aipep_core.spec import TestSpec


def load_flags(test: TestSpec) -> list[str]:
    flags = test.scenario.program_flags() if test.scenario else []
    return [*flags, "--cold_start"] if test.cold_start else flags
