"""Checking one posted result record before anything is stored.

What a record is comes from the shipped schema (aipep_core/result_record.schema.json),
the same one the harness writes to, so the server holds no definition of its own: a
record of any version this aipep reads is accepted (one without `schema_version` was
written before versions existed), one of a newer version is refused, and a refusal
names the field in the record's own terms (`data["NET latency"].values`) with what was
expected, so the sender can fix the producer without reading code. Unknown keys are
kept, not refused.

On top of the schema come the limits of a server that takes records from the network
(record_limits.py says why each exists): sizes are checked before contents, so a record
over a samples cap is refused with 413 before its millions of values are looked at;
names are held to lengths the tables can index; every string must be storable text.
"""

from __future__ import annotations

import json
from typing import Any

from aipep_core.result_record_schema import RecordMismatch, check_record
from server.record_limits import (
    MAX_KEY_CHARACTERS,
    MAX_METRICS_PER_RECORD,
    MAX_NAME_CHARACTERS,
    MAX_ROUNDS,
    MAX_SAMPLES_PER_LIST,
    MAX_SAMPLES_PER_RECORD,
)
from server.record_text import BadText, check_record_text, check_text

SAMPLE_LISTS = ("values", "round_values", "control_values", "control_round_values")
NAMED_META = ("model", "identifier", "platform", "framework", "commit", "control_commit", "run_type")
METRIC_NAMES = ("type", "metric", "unit")


class InvalidRecord(ValueError):
    """The record cannot be stored; the message is the answer's reason."""

    status = 400


class RecordTooLarge(InvalidRecord):
    """Over a cap on samples or metrics: 413, like a body over the byte limit."""

    status = 413


def validate_record(document: Any) -> None:
    data = document.get("data") if isinstance(document, dict) else None
    if isinstance(data, dict):
        _check_sizes(data)
    try:
        check_record(document)
    except RecordMismatch as error:
        raise InvalidRecord(str(error)) from None
    _check_names(document["meta"], document.get("data", {}))
    _check_rounds(document.get("data", {}))
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


def _check_names(meta: dict[str, Any], data: dict[str, Any]) -> None:
    """Names are stored in indexed columns and shown on every page, so they are held to a short length."""
    for name in NAMED_META:
        _check_name(f"meta.{name}", meta.get(name))
    _check_name("meta.device.identifier", (meta.get("device") or {}).get("identifier"))
    for key, metric in data.items():
        _check_name(f"data: key {json.dumps(key)}", key, MAX_KEY_CHARACTERS)
        for name in METRIC_NAMES:
            _check_name(f"data[{json.dumps(key)}].{name}", metric[name])


def _check_rounds(data: dict[str, Any]) -> None:
    for key, metric in data.items():
        rounds = (metric.get("comparison") or {}).get("rounds")
        if rounds is not None and rounds > MAX_ROUNDS:
            raise InvalidRecord(
                f"data[{json.dumps(key)}].comparison.rounds: expected a whole number from 0 to {MAX_ROUNDS} or null, "
                f"got {rounds}"
            )


def _check_name(where: str, value: str | None, limit: int = MAX_NAME_CHARACTERS) -> None:
    if value is not None:
        try:
            check_text(where, value, limit)
        except BadText as error:
            raise InvalidRecord(str(error)) from None
