"""What the dashboard's chart shows: the filters a user chose, completed from the newest result.

A user rarely knows every filter: choosing only a model should still draw a chart. The
missing filters are taken from the newest result that matches the chosen ones, and the
metric defaults to the whole network's latency, the headline number. The choices each
drop-down offers depend on the filters before it, so no combination offered is empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from server.result_order import newest_first
from server.schema import metrics, results

DEFAULT_KEY = "NET latency"

FILTERS = ("model", "identifier", "platform", "device")


@dataclass(frozen=True)
class Selection:
    model: str
    identifier: str
    platform: str
    device: str | None
    key: str


@dataclass(frozen=True)
class Choices:
    """The values each filter's drop-down offers, given the filters before it."""

    model: list[str] = field(default_factory=list)
    identifier: list[str] = field(default_factory=list)
    platform: list[str] = field(default_factory=list)
    device: list[str] = field(default_factory=list)
    key: list[str] = field(default_factory=list)


def resolve_selection(engine: Engine, requested: dict[str, str]) -> Selection | None:
    """The chosen filters, completed; None when no stored result matches them."""
    chosen = {name: requested[name] for name in FILTERS if requested.get(name)}
    query = select(results.c.id, *(results.c[name] for name in FILTERS)).order_by(*newest_first()).limit(1)
    query = query.where(*(results.c[name] == value for name, value in chosen.items()))
    key = requested.get("key")
    if key:
        query = query.where(
            select(metrics.c.key).where(metrics.c.result_id == results.c.id, metrics.c.key == key).exists()
        )
    with engine.connect() as connection:
        newest = connection.execute(query).first()
        if newest is None:
            return None
        if not key:
            keys = connection.execute(
                select(metrics.c.key).where(metrics.c.result_id == newest.id).order_by(metrics.c.position)
            ).scalars()
            listed = list(keys)
            key = DEFAULT_KEY if DEFAULT_KEY in listed else (listed[0] if listed else DEFAULT_KEY)
    return Selection(newest.model, newest.identifier, newest.platform, newest.device, key)


def unmatched_reason(requested: dict[str, str]) -> str:
    """Why resolve_selection found nothing, with the rule for what it fills in."""
    given = ", ".join(f"{name}={value!r}" for name, value in requested.items()) or "no filters"
    return (
        f"no stored result matches {given}; filters left out are taken from the newest matching result, "
        f"and key defaults to {DEFAULT_KEY!r}"
    )


def filter_choices(engine: Engine, selection: Selection | None) -> Choices:
    offered: dict[str, list[str]] = {}
    with engine.connect() as connection:
        conditions = []
        for name in FILTERS:
            column = results.c[name]
            query = select(column).distinct().where(column.is_not(None), *conditions).order_by(column)
            offered[name] = list(connection.execute(query).scalars())
            if selection is not None:
                conditions.append(column == getattr(selection, name))
        if selection is not None:
            key_query = (
                select(metrics.c.key)
                .distinct()
                .join(results, results.c.id == metrics.c.result_id)
                .where(*conditions)
                .order_by(metrics.c.key)
            )
            offered["key"] = list(connection.execute(key_query).scalars())
    return Choices(**offered)
