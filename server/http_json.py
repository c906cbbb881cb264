"""JSON answers for the API, written with the harness's strict encoder.

Every number the server sends was stored finite, but the strict encoder is the
guarantee: a browser's JSON.parse refuses NaN, and one would break the dashboard.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Response

from aipep_core.strict_json import strict_json

JSON = "application/json"


def json_response(document: Any, status: int = 200) -> Response:
    return Response(strict_json(document), status=status, mimetype=JSON)


def json_error(status: int, reason: str) -> Response:
    return json_response({"error": reason}, status)


def json_list_response(texts: list[str]) -> Response:
    """A JSON array of documents that are already JSON text, joined without decoding them."""
    return Response("[" + ",".join(texts) + "]", status=200, mimetype=JSON)


def body_limit_reason(limit_bytes: int) -> str:
    return f"request body over the limit of {limit_bytes} bytes (aipep-server --max_body_mb)"


def too_many_requests(reason: str, wait_seconds: float) -> Response:
    """429 with the whole seconds until the client's allowance covers the request again."""
    response = json_error(429, reason)
    response.headers["Retry-After"] = str(max(1, math.ceil(wait_seconds)))
    return response
