"""Checking a document against the shipped result record schema, and saying what is wrong in the record's terms.

A record that does not match is refused with one line naming the field the way a
reader of the JSON would write it (`data["NET latency"].values`) and what was expected
there (the schema's `x-expected`), so whoever produced it can fix the producer without
reading the schema. Two things plain JSON Schema cannot say are added to the validator:
a number must be one a float can hold (JSON integers are unbounded), and measured
samples must be finite (`x-finite`). A sample list is checked in one pass when it is
clean, because a record may hold a million samples and the generic per-item walk would
take seconds.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from aipep_core.result_record import UnknownSchemaVersion, schema_version

SCHEMA_FILE = "result_record.schema.json"
SCHEMA: dict[str, Any] = json.loads(resources.files("aipep_core").joinpath(SCHEMA_FILE).read_text())
ROOT = "record"

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RecordMismatch(ValueError):
    """The document is not a result record this aipep reads; the message names the field."""


def check_record(document: Any) -> None:
    """Raise RecordMismatch naming the first field that does not match, or the unknown newer version."""
    if isinstance(document, dict):
        try:
            schema_version(document)
        except UnknownSchemaVersion as error:
            raise RecordMismatch(str(error)) from None
    error = next(_VALIDATOR.iter_errors(document), None)
    if error is not None:
        raise RecordMismatch(_describe_error(error))


def _is_number(checker: Any, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= sys.float_info.max
    return isinstance(value, float)


def _is_integer(checker: Any, value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(validator: Any, wanted: bool, value: Any, schema: dict) -> Iterator[jsonschema.ValidationError]:
    if wanted and isinstance(value, float) and not math.isfinite(value):
        yield jsonschema.ValidationError(f"{value} is not finite")


_GENERIC_ITEMS = Draft202012Validator.VALIDATORS["items"]
_SAMPLE_ITEM = SCHEMA["$defs"]["samples"]["items"]


def _items(validator: Any, items: Any, value: Any, schema: dict) -> Iterator[jsonschema.ValidationError]:
    if items == _SAMPLE_ITEM and isinstance(value, list) and all(_is_sample(item) for item in value):
        return
    yield from _GENERIC_ITEMS(validator, items, value, schema)


def _is_sample(value: Any) -> bool:
    return _is_number(None, value) and math.isfinite(value)


_RecordValidator = jsonschema.validators.extend(
    Draft202012Validator,
    validators={"x-finite": _finite, "items": _items},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many({"number": _is_number, "integer": _is_integer}),
)
_VALIDATOR = _RecordValidator(SCHEMA)


def _describe_error(error: jsonschema.ValidationError) -> str:
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = next(name for name in error.validator_value if name not in error.instance)
        expected = _expected(_resolved(error.schema["properties"][missing]))
        return f"{json_path(path + [missing])}: expected {expected}, got null"
    expected = _expected(error.schema)
    if expected is None and list(error.relative_schema_path)[-2:-1] == ["items"]:
        listed = _schema_at(list(error.absolute_schema_path)[:-2])
        where, item = json_path(path[:-1]), path[-1]
        return f"{where}: expected {_expected(_resolved(listed))}, got item {item} = {describe(error.instance)}"
    return f"{json_path(path)}: expected {expected or error.message}, got {describe(error.instance)}"


def _expected(schema: Any) -> str | None:
    return schema.get("x-expected") if isinstance(schema, dict) else None


def _resolved(schema: dict) -> dict:
    """The schema a `{"$ref": "#/$defs/..."}` points to (only local references are used)."""
    while "$ref" in schema and "x-expected" not in schema:
        schema = _schema_at(schema["$ref"].removeprefix("#/").split("/"))
    return schema


def _schema_at(schema_path: list[Any]) -> Any:
    """The subschema at a validator's schema path, which passes through `$ref` without naming it."""
    node: Any = SCHEMA
    for step in schema_path:
        if isinstance(node, dict) and step not in node and "$ref" in node:
            node = _schema_at(node["$ref"].removeprefix("#/").split("/"))
        node = node[step]
    return node


def json_path(path: list[Any]) -> str:
    """A field as a reader of the JSON writes it: meta.model, data["NET latency"].values, meta.command[0]."""
    where = ROOT
    for step in path:
        if isinstance(step, int):
            where += f"[{step}]"
        elif _PLAIN_KEY.fullmatch(step):
            where = step if where == ROOT else f"{where}.{step}"
        else:
            where = f"{'' if where == ROOT else where}[{json.dumps(step)}]"
    return where


def describe(value: Any) -> str:
    """A value shown in one short line: objects and lists by kind, long text cut."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
