"""Text that UTF-8 cannot hold, written the same way by every reporter so the record is kept.

A lone surrogate reaches a result from a JSON escape such as "\\ud800" in a spec, or from
bytes that were not UTF-8 (Python decodes those as surrogates). SQLite, files and
terminals refuse such text, so the record would be lost. Instead every such character is
written as its escape, the six characters `\\ud800`, as Python's backslashreplace spells it;
every other character is left alone, and a result without such text is passed on as it is.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from harness.result import RunResult


def encodable_result(result: RunResult) -> RunResult:
    if _encodable(_texts(result)):
        return result
    return dataclasses.replace(
        result,
        id=_escaped(result.id),
        status=_escaped(result.status),
        failure=_escaped(result.failure),
        meta=_escaped(result.meta),
        logs=_escaped(result.logs),
        data={
            _escaped(key): dataclasses.replace(
                metric, **{field.name: _escaped(getattr(metric, field.name)) for field in dataclasses.fields(metric)}
            )
            for key, metric in result.data.items()
        },
    )


def _texts(result: RunResult) -> list[Any]:
    metrics = [[getattr(metric, field.name) for field in dataclasses.fields(metric)] for metric in result.data.values()]
    return [result.id, result.status, result.failure, result.meta, result.logs, list(result.data), metrics]


def encodable_text(text: str) -> str:
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _encodable(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(key) and _encodable(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(_encodable(item) for item in value)
    return True


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return encodable_text(value)
    if isinstance(value, dict):
        return {_escaped(key): _escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_escaped(item) for item in value)
    return value
