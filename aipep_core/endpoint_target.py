"""A serving endpoint that a test sends its inference requests to, instead of running a model file.

Teams that serve models ask whether a server got slower, not a runtime: a test's `target`
names the server (the Open Inference Protocol, KServe v2 REST, as Triton, KServe and MLServer
speak it) and the model it serves. In an A/B run each arm may name its own server (two
deployments are two arms), so an arm's `target` in `--info` overrides the test's fields.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

# The fields an arm may give its own value for: where its server is and what it calls the model.
ARM_TARGET_FIELDS = ("url", "model", "version")
ARM_OPTION = "target"


@dataclass(frozen=True)
class EndpointTarget:
    """`version` None asks the server for its default version of the model."""

    protocol: str
    url: str
    model: str
    version: str | None = None

    @classmethod
    def from_json(cls, document: dict[str, Any] | None) -> EndpointTarget | None:
        """The target of a schema-checked spec (None where the test names none)."""
        if document is None:
            return None
        return cls(
            protocol=document["protocol"], url=document["url"], model=document["model"], version=document.get("version")
        )

    def for_arm(self, arm_options: dict[str, Any]) -> EndpointTarget:
        """The target as one arm sees it: its own `url`, `model` or `version` where `--info` gives them."""
        return replace(self, **arm_options.get(ARM_OPTION, {}))
