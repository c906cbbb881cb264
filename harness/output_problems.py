"""What the programs of one run printed that could not be read, kept in the result's meta.

A bad observer line costs only itself (see frameworks/observer_lines.py), but the user
must still learn that it was there. An A/B run repeats the same program dozens of times,
so a problem is listed once, with the first process that printed it, and the list is
bounded: a program that prints garbage in every round must not bloat every stored result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

META_KEY = "output_problems"
MAX_LISTED = 20


@dataclass
class OutputProblems:
    first_seen: dict[str, str] = field(default_factory=dict)
    unlisted: int = 0

    def add(self, label: str, problems: list[str]) -> None:
        for problem in problems:
            if problem in self.first_seen:
                continue
            if len(self.first_seen) < MAX_LISTED:
                self.first_seen[problem] = label
            else:
                self.unlisted += 1

    def listed(self) -> list[str]:
        lines = [f"{label}: {problem}" for problem, label in self.first_seen.items()]
        return lines + ([f"... and {self.unlisted} more"] if self.unlisted else [])

    def record(self, meta: dict) -> None:
        """Put the list into `meta`, only when there is something to say."""
        if self.first_seen:
            meta[META_KEY] = self.listed()
