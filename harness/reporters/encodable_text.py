"""Text that UTF-8 cannot hold, written the same way by every reporter so the record is kept.

A lone surrogate reaches a result from a JSON escape such as "\\ud800" in a spec, or from
bytes that were not UTF-8 (Python decodes those as surrogates). SQLite, files and
terminals refuse such text, so the record would be lost. Instead every such character is
written as its escape, the six characters `\\ud800`, as Python's backslashreplace spells it;
every other character is left alone, and a result without such text is passed on as it is.
"""

from __future__ import annotations

from typing import Any

from aipep_core.result_record import RunResult


def encodable_result(result: RunResult) -> RunResult:
    """The result itself when all its text can be written; else a copy read back from the escaped record."""
    document = result.to_json()
    if _encodable([document, result.logs]):
        return result
    return RunResult.from_json(_escaped(document), logs=_escaped(result.logs))


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
