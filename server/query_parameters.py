"""Reading the API's query parameters, with 400 reasons that name the parameter."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class BadParameter(ValueError):
    """The message is the 400 answer's reason."""


def optional_text(arguments: MultiDict, name: str) -> str | None:
    """An empty value counts as absent, as an HTML form sends unused filters."""
    return arguments.get(name) or None


def limit(arguments: MultiDict) -> int:
    text = arguments.get("limit")
    if text is None or text == "":
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadParameter(f"limit: expected a whole number from 1 to {MAX_LIMIT}, got {text!r}")
    return int(text)
