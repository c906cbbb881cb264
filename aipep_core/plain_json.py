"""Frozen dataclasses to and from plain JSON values, strictly, by their type hints.

A job crosses process and host boundaries as JSON, so reading one back must be as strict
as the spec reader: every field has the type its hint says, an unknown field is a typo
rather than something to drop, and a mistake is one line naming the field's path.
Supported hints: dataclasses, str-valued enums, str, int, float, bool, `X | None`,
`tuple[X, ...]` (a JSON list) and `dict[str, X]` (a JSON object; `Any` takes any JSON value).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum
from typing import Any

from aipep_core.errors import UserError

_KINDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def to_plain(value: Any) -> Any:
    """The JSON value of a dataclass tree: enums as their values, tuples as lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    return value


def from_plain(cls: type, value: Any, where: str) -> Any:
    """An instance of dataclass `cls` from its JSON value; `where` names it in error messages."""
    if not isinstance(value, dict):
        raise UserError(f"{where}: expected an object, got {_shown(value)}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    for name in value:
        if name not in fields:
            raise UserError(f"{where}.{name}: unknown field, expected one of {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    given = {}
    for name, field in fields.items():
        if name in value:
            given[name] = _read(hints[name], value[name], f"{where}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise UserError(f"{where}.{name}: missing, expected {_expected(hints[name])}")
    return cls(**given)


def _read(hint: Any, value: Any, where: str) -> Any:
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        (inner,) = [argument for argument in arguments if argument is not type(None)]
        return _read(inner, value, where)
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint):
        return from_plain(hint, value, where)
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            raise UserError(f"{where}: expected {_expected(hint)}, got {_shown(value)}") from None
    if origin is tuple:
        if not isinstance(value, list):
            raise UserError(f"{where}: expected a list, got {_shown(value)}")
        return tuple(_read(arguments[0], item, f"{where}[{index}]") for index, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected an object, got {_shown(value)}")
        return {key: _read(arguments[1], item, f"{where}.{key}") for key, item in value.items()}
    return _scalar(hint, value, where)


def _scalar(hint: type, value: Any, where: str) -> Any:
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, hint) and not (hint in (int, float) and isinstance(value, bool)):
        return value
    raise UserError(f"{where}: expected {_expected(hint)}, got {_shown(value)}")


def _expected(hint: Any) -> str:
    if isinstance(hint, type) and issubclass(hint, Enum):
        return "one of " + ", ".join(str(member.value) for member in hint)
    if dataclasses.is_dataclass(hint):
        return "an object"
    return _KINDS.get(hint, "a value")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
