"""What every request handler needs from the running server, kept on the Flask app instead of in globals."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Engine

EXTENSION = "aipep"


@dataclass(frozen=True)
class ServerState:
    engine: Engine
    max_body_bytes: int


def current_state() -> ServerState:
    return current_app.extensions[EXTENSION]
