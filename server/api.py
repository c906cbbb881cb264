"""The HTTP API under /api/v1: ingest with a token, queries without one.

Reads are open because results are what a team shares; only writes need a token,
so whoever can read the dashboard still cannot plant results in it. The token is checked before the
body is parsed, so an unauthenticated client cannot make the server decode anything.
A record is charged to its token's samples allowance only after it passed validation
and only when it is new, so a retry of a stored record costs its sender nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from aipep_core.result_record import RunResult
from server.http_json import JSON, json_error, json_list_response, json_response, too_many_requests
from server.ingest import is_stored, store_record
from server.open_regressions import open_regressions
from server.query_parameters import BadParameter, limit, optional_text
from server.record_validation import SAMPLE_LISTS, InvalidRecord, validate_record
from server.result_queries import ResultFilters, UnknownCursor, find_document, find_documents
from server.selection import FILTERS, resolve_selection, unmatched_reason
from server.series_query import SeriesQuery, series_points
from server.server_state import current_guards, current_state
from server.tokens import is_valid_token, token_hash

PREFIX = "/api/v1"
LISTING_FILTERS = ("model", "identifier", "platform", "commit", "device")

api = Blueprint("api", __name__, url_prefix=PREFIX)


@api.errorhandler(BadParameter)
def _bad_parameter(error: BadParameter) -> Response:
    return json_error(400, str(error))


@api.post("/results")
def post_result() -> Response:
    token = bearer_token()
    if isinstance(token, Response):
        return token
    try:
        document = json.loads(request.get_data(cache=False))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return json_error(400, f"malformed JSON: {error}")
    except RecursionError:
        return json_error(400, "malformed JSON: nested too deeply")
    try:
        validate_record(document)
    except InvalidRecord as error:
        return json_error(error.status, str(error))
    document["id"] = document["id"].lower()
    record = RunResult.from_json(document)
    engine = current_state().engine
    if is_stored(engine, document["id"]):
        return json_response({"id": document["id"], "created": False}, 200)
    samples = current_guards().samples
    cost = _sample_count(document)
    if samples is not None:
        wait = samples.take(token_hash(token), cost)
        if wait:
            quota = current_state().limits.samples_per_token_hour
            reason = f"token over its quota of {quota} samples per hour (aipep-server --samples_per_token_hour)"
            return too_many_requests(f"{reason}; this record holds {cost}", wait)
    created = store_record(engine, record, document)
    if created:
        current_guards().regressions.invalidate()
    elif samples is not None:
        samples.give_back(token_hash(token), cost)
    return json_response({"id": document["id"], "created": created}, 201 if created else 200)


@api.get("/results")
def get_results() -> Response:
    arguments = request.args
    filters = ResultFilters(**{name: optional_text(arguments, name) for name in LISTING_FILTERS})
    after = optional_text(arguments, "after")
    count = limit(arguments)
    try:
        page = find_documents(
            current_state().engine, filters, count, current_state().limits.listing_bytes, after and after.lower()
        )
    except UnknownCursor:
        return json_error(400, f"after: expected the id of a stored result, got {after!r}")
    response = json_list_response(page.documents)
    if page.next_after is not None:
        given = {name: value for name in (*LISTING_FILTERS, "limit") if (value := arguments.get(name))}
        query = urlencode({**given, "after": page.next_after})
        response.headers["Link"] = f'<{PREFIX}/results?{query}>; rel="next"'
    return response


@api.get("/results/<result_id>")
def get_result(result_id: str) -> Response:
    document = find_document(current_state().engine, result_id.lower())
    if document is None:
        return json_error(404, f"no result with id {result_id}")
    return Response(document, mimetype=JSON)


@api.get("/series")
def get_series() -> Response:
    """Filters left out are filled in as the dashboard fills them (selection.py)."""
    requested = {name: value for name in (*FILTERS, "key") if (value := optional_text(request.args, name))}
    selection = resolve_selection(current_state().engine, requested)
    if selection is None:
        return json_error(404, unmatched_reason(requested))
    query = SeriesQuery(**asdict(selection))
    points = series_points(current_state().engine, query)
    return json_response({**asdict(query), "points": points})


@api.get("/regressions")
def get_regressions() -> Response:
    engine = current_state().engine
    return json_response(current_guards().regressions.get(lambda: open_regressions(engine)))


@api.get("/openapi.json")
def get_openapi() -> Response:
    return Response(resources.files("server").joinpath("openapi.json").read_bytes(), mimetype=JSON)


def bearer_token() -> str | Response:
    """The request's valid token, or the 401 answer."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("expected an 'Authorization: Bearer <token>' header")
    if not is_valid_token(current_state().engine, token.strip()):
        return _unauthorized("unknown or revoked token")
    return token.strip()


def _unauthorized(reason: str) -> Response:
    response = json_error(401, reason)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _sample_count(document: dict) -> int:
    return sum(len(metric.get(name) or ()) for metric in document.get("data", {}).values() for name in SAMPLE_LISTS)
