"""A broker URL as it may be shown: the password (Redis `requirepass`, a RabbitMQ user's) never is."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def shown_broker_url(url: str) -> str:
    """`url` with any password replaced by `***`; a URL that does not parse is not shown at all."""
    try:
        parts = urlsplit(url)
        password = parts.password
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<broker URL>"
    if password is None:
        return url
    user = parts.username or ""
    where = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, f"{user}:***@{where}", parts.path, parts.query, parts.fragment))
