"""Checking one posted result record before anything is stored.

The record is `RunResult.to_json()` from any harness version, so unknown keys are
kept, not refused; what the server's tables and charts rely on is checked, and a
refusal names the field in the record's own terms (`data["NET latency"].values`)
with what was expected, so the sender can fix the producer without reading code.

Measured values must be finite numbers: the harness never reports NaN samples, and
one would poison every percentile drawn from them. Summaries and comparisons may
carry null (or NaN/Infinity, stored as null): an interval from few rounds is open.

Sizes are checked before contents (record_limits.py says why each cap exists): a record
over a samples cap is refused with 413 before its millions of values are looked at.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from server.record_limits import (
    MAX_KEY_CHARACTERS,
    MAX_METRICS_PER_RECORD,
    MAX_NAME_CHARACTERS,
    MAX_ROUNDS,
    MAX_SAMPLES_PER_LIST,
    MAX_SAMPLES_PER_RECORD,
)
from server.record_text import BadText, check_record_text, check_text

STATUSES = ("success", "failure")
VERDICTS = ("regression", "improvement", "no_change", "inconclusive")
SAMPLE_LISTS = ("values", "round_values", "control_values", "control_round_values")
SUMMARIES = ("summary", "control_summary", "diff_summary")
COMPARISON_NUMBERS = ("estimate_pct", "ci_low_pct", "ci_high_pct", "p_value", "q_value")
REQUIRED_META = ("model", "identifier", "platform")
OPTIONAL_META = ("framework", "commit", "control_commit", "run_type")

_ID = re.compile(r"[0-9a-fA-F]{1,128}")


class InvalidRecord(ValueError):
    """The record cannot be stored; the message is the answer's reason."""

    status = 400


class RecordTooLarge(InvalidRecord):
    """Over a cap on samples or metrics: 413, like a body over the byte limit."""

    status = 413


def validate_record(document: Any) -> None:
    _require(isinstance(document, dict), "record", "a JSON object (one result record)", document)
    _check_id(document.get("id"))
    status = document.get("status")
    _require(status in STATUSES, "status", " or ".join(map(json.dumps, STATUSES)), status)
    _require(_is_text_or_null(document.get("failure")), "failure", "a string or null", document.get("failure"))
    _check_meta(document.get("meta"))
    data = document.get("data", {})
    _require(isinstance(data, dict), "data", "an object of metrics by key", data)
    _check_sizes(data)
    for key, metric in data.items():
        where = f"data[{json.dumps(key)}]"
        _check_name(f"data: key {json.dumps(key)}", key, MAX_KEY_CHARACTERS)
        _check_metric(where, metric)
    try:
        check_record_text(document)
    except BadText as error:
        raise InvalidRecord(str(error)) from None


def _check_sizes(data: dict[str, Any]) -> None:
    if len(data) > MAX_METRICS_PER_RECORD:
        raise RecordTooLarge(f"data: expected at most {MAX_METRICS_PER_RECORD} metrics in one record, got {len(data)}")
    total = 0
    for key, metric in data.items():
        for name in SAMPLE_LISTS:
            values = metric.get(name) if isinstance(metric, dict) else None
            if isinstance(values, list):
                if len(values) > MAX_SAMPLES_PER_LIST:
                    raise RecordTooLarge(
                        f"data[{json.dumps(key)}].{name}: expected at most {MAX_SAMPLES_PER_LIST} samples, "
                        f"got {len(values)}"
                    )
                total += len(values)
    if total > MAX_SAMPLES_PER_RECORD:
        raise RecordTooLarge(f"data: expected at most {MAX_SAMPLES_PER_RECORD} samples in one record, got {total}")


def _check_id(value: Any) -> None:
    expected = "a hex string of 1 to 128 characters"
    _require(isinstance(value, str) and _ID.fullmatch(value) is not None, "id", expected, value)


def _check_meta(meta: Any) -> None:
    _require(isinstance(meta, dict), "meta", "an object", meta)
    for name in REQUIRED_META:
        value = meta.get(name)
        _require(isinstance(value, str) and value != "", f"meta.{name}", "a non-empty string", value)
        _check_name(f"meta.{name}", value)
    for name in OPTIONAL_META:
        _require(_is_text_or_null(meta.get(name)), f"meta.{name}", "a string or null", meta.get(name))
        _check_name(f"meta.{name}", meta.get(name))
    commit_time = meta.get("commit_time")
    _require(commit_time is None or _is_number(commit_time), "meta.commit_time", "a number or null", commit_time)
    device = meta.get("device")
    _require(device is None or isinstance(device, dict), "meta.device", "an object or null", device)
    if device is not None:
        identifier = device.get("identifier")
        _require(_is_text_or_null(identifier), "meta.device.identifier", "a string or null", identifier)
        _check_name("meta.device.identifier", identifier)


def _check_metric(where: str, metric: Any) -> None:
    _require(isinstance(metric, dict), where, "an object (one metric)", metric)
    for name in ("type", "metric", "unit"):
        _require(isinstance(metric.get(name), str), f"{where}.{name}", "a string", metric.get(name))
        _check_name(f"{where}.{name}", metric[name])
    _check_samples(f"{where}.values", metric.get("values"), required=True)
    for name in SAMPLE_LISTS[1:]:
        _check_samples(f"{where}.{name}", metric.get(name), required=False)
    num_runs = metric.get("num_runs")
    _require(_is_count(num_runs), f"{where}.num_runs", "a whole number of at least 0", num_runs)
    _require(isinstance(metric.get("summary"), dict), f"{where}.summary", "an object", metric.get("summary"))
    for name in SUMMARIES:
        _check_summary(f"{where}.{name}", metric.get(name))
    comparison = metric.get("comparison")
    _require(comparison is None or isinstance(comparison, dict), f"{where}.comparison", "an object or null", comparison)
    if comparison is not None:
        _check_comparison(f"{where}.comparison", comparison)


def _check_samples(where: str, values: Any, *, required: bool) -> None:
    if values is None and not required:
        return
    _require(isinstance(values, list), where, "a list of numbers", values)
    for index, value in enumerate(values):
        if not (_is_number(value) and math.isfinite(value)):
            raise InvalidRecord(f"{where}: expected a list of numbers, got item {index} = {_describe(value)}")


def _check_summary(where: str, summary: Any) -> None:
    _require(summary is None or isinstance(summary, dict), where, "an object or null", summary)
    for name, value in (summary or {}).items():
        _require(value is None or _is_number(value), f"{where}.{name}", "a number or null", value)


def _check_comparison(where: str, comparison: dict[str, Any]) -> None:
    for name in COMPARISON_NUMBERS:
        value = comparison.get(name)
        _require(value is None or _is_number(value), f"{where}.{name}", "a number or null", value)
    rounds = comparison.get("rounds")
    expected = f"a whole number from 0 to {MAX_ROUNDS} or null"
    _require(rounds is None or (_is_count(rounds) and rounds <= MAX_ROUNDS), f"{where}.rounds", expected, rounds)
    verdict = comparison.get("verdict")
    _require(verdict is None or verdict in VERDICTS, f"{where}.verdict", f"one of {', '.join(VERDICTS)}", verdict)


def _check_name(where: str, value: str | None, limit: int = MAX_NAME_CHARACTERS) -> None:
    """Names are stored in indexed columns and shown on every page, so they are held to a short length."""
    if value is not None:
        try:
            check_text(where, value, limit)
        except BadText as error:
            raise InvalidRecord(str(error)) from None


def _require(condition: bool, where: str, expected: str, got: Any) -> None:
    if not condition:
        raise InvalidRecord(f"{where}: expected {expected}, got {_describe(got)}")


def _is_number(value: Any) -> bool:
    """JSON integers are unbounded in Python; one no float can hold is refused rather than overflowing later."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, float) or abs(value) <= sys.float_info.max


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_text_or_null(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
