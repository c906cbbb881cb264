"""What every request handler needs from the running server, kept on the Flask app instead of in globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import Engine

from server.answer_cache import AnswerCache
from server.limits import ClientLimits
from server.token_buckets import TokenBuckets

EXTENSION = "aipep"
GUARDS = "aipep.guards"


@dataclass(frozen=True)
class ServerState:
    engine: Engine
    max_body_bytes: int
    limits: ClientLimits = field(default_factory=ClientLimits)


@dataclass(frozen=True)
class Guards:
    """The mutable side of the limits: allowances used so far and the cached open regressions."""

    requests: TokenBuckets | None
    samples: TokenBuckets | None
    regressions: AnswerCache[list[dict[str, Any]]]

    @classmethod
    def for_limits(cls, limits: ClientLimits) -> Guards:
        return cls(
            requests=TokenBuckets(limits.requests_per_minute, 60.0) if limits.requests_per_minute > 0 else None,
            samples=TokenBuckets(limits.samples_per_token_hour, 3600.0) if limits.samples_per_token_hour > 0 else None,
            regressions=AnswerCache(limits.regressions_cache_seconds),
        )


def current_state() -> ServerState:
    return current_app.extensions[EXTENSION]


def current_guards() -> Guards:
    return current_app.extensions[GUARDS]
