"""Results as rich tables on the terminal: the default reporter a person reads."""

from __future__ import annotations

import os

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from aipep_core.result_record import RunResult, unmeasured_notes
from harness.reporters.ab_table import ab_table, ordered_comparisons
from harness.reporters.arms_table import arms_table, has_two_arms
from harness.reporters.base import Reporter
from harness.reporters.result_title import result_title
from harness.reporters.scenario_table import scenario_table
from harness.reporters.single_table import single_table

# Wide enough for an A/B row with a long fused node name; used where no terminal sets a width.
UNBOUNDED_WIDTH = 160


class ScreenReporter(Reporter):
    def __init__(self, console: Console | None = None) -> None:
        self.console = console if console is not None else _console()

    def report(self, result: RunResult) -> None:
        title = result_title(result)
        if not result.ok:
            failure = Text(result.failure or "failed without a message", style="red")
            self.console.print(Panel(failure, title=Text(title), border_style="red"))
        elif any(metric.comparison is not None for metric in result.data.values()):
            self.console.print(ab_table(result, title))
            for line in unmeasured_notes(ordered_comparisons(result)):
                self.console.print(Text(line))
        elif has_two_arms(result):
            self.console.print(arms_table(result, title))
        else:
            self.console.print(single_table(result, title))
        load = scenario_table(result) if result.ok else None
        if load is not None:
            self.console.print(load)


def _console() -> Console:
    """A terminal's own width, but logs and pipes have none, so rich's default of 80 would only fold the table."""
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=UNBOUNDED_WIDTH)
    return console
