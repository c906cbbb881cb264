"""The limits a test may ask its benchmark processes to run under.

A model fastest on a many-core host may lose in a half-core container; a test says
which container it means, and the platform enforces it or refuses the run: with cgroups of
its own (the default), or, with `runner` "docker", inside a Docker container of `image`,
as the program will run in production when that is how it ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunConstraints:
    """`cpus`: a CPU-time quota in CPUs (0.5 is half of one); `cpuset`: the CPUs it may run on,
    as the kernel's list syntax ("0-1,3"); `memory_mb`: the most memory it may hold; `runner`:
    "cgroups" (None) or "docker"; `image`: the Docker image a docker runner starts."""

    cpus: float | None = None
    cpuset: str | None = None
    memory_mb: int | None = None
    runner: str | None = None
    image: str | None = None

    @property
    def in_docker(self) -> bool:
        return self.runner == "docker"

    @classmethod
    def from_json(cls, document: dict[str, Any] | None) -> RunConstraints | None:
        if not document:
            return None
        cpus = document.get("cpus")
        return cls(
            cpus=None if cpus is None else float(cpus),
            cpuset=document.get("cpuset"),
            memory_mb=document.get("memory_mb"),
            runner=document.get("runner"),
            image=document.get("image"),
        )

    def as_json(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value is not None}
