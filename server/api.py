"""The HTTP API under /api/v1: ingest with a token, queries without one.

Reads are open because results are what a team shares; only writes need a token,
so whoever can read the dashboard still cannot plant results in it. The token is checked before the
body is parsed, so an unauthenticated client cannot make the server decode anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources

from flask import Blueprint, Response, request

from server.http_json import JSON, json_error, json_list_response, json_response
from server.ingest import store_record
from server.open_regressions import open_regressions
from server.query_parameters import BadParameter, limit, optional_text, required_text
from server.record_validation import InvalidRecord, validate_record
from server.result_queries import ResultFilters, find_document, find_documents
from server.series_query import SeriesQuery, series_points
from server.server_state import current_state
from server.tokens import is_valid_token

PREFIX = "/api/v1"

api = Blueprint("api", __name__, url_prefix=PREFIX)


@api.errorhandler(BadParameter)
def _bad_parameter(error: BadParameter) -> Response:
    return json_error(400, str(error))


@api.post("/results")
def post_result() -> Response:
    refusal = _authentication_refusal()
    if refusal is not None:
        return refusal
    try:
        document = json.loads(request.get_data(cache=False))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return json_error(400, f"malformed JSON: {error}")
    except RecursionError:
        return json_error(400, "malformed JSON: nested too deeply")
    try:
        validate_record(document)
    except InvalidRecord as error:
        return json_error(400, str(error))
    created = store_record(current_state().engine, document)
    return json_response({"id": document["id"], "created": created}, 201 if created else 200)


@api.get("/results")
def get_results() -> Response:
    arguments = request.args
    filters = ResultFilters(
        **{name: optional_text(arguments, name) for name in ("model", "identifier", "platform", "commit", "device")}
    )
    return json_list_response(find_documents(current_state().engine, filters, limit(arguments)))


@api.get("/results/<result_id>")
def get_result(result_id: str) -> Response:
    document = find_document(current_state().engine, result_id)
    if document is None:
        return json_error(404, f"no result with id {result_id}")
    return Response(document, mimetype=JSON)


@api.get("/series")
def get_series() -> Response:
    arguments = request.args
    query = SeriesQuery(
        model=required_text(arguments, "model"),
        identifier=required_text(arguments, "identifier"),
        platform=required_text(arguments, "platform"),
        key=required_text(arguments, "key"),
        device=optional_text(arguments, "device"),
    )
    points = series_points(current_state().engine, query)
    return json_response({**asdict(query), "points": points})


@api.get("/regressions")
def get_regressions() -> Response:
    return json_response(open_regressions(current_state().engine))


@api.get("/openapi.json")
def get_openapi() -> Response:
    return Response(resources.files("server").joinpath("openapi.json").read_bytes(), mimetype=JSON)


def _authentication_refusal() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("expected an 'Authorization: Bearer <token>' header")
    if not is_valid_token(current_state().engine, token.strip()):
        return _unauthorized("unknown or revoked token")
    return None


def _unauthorized(reason: str) -> Response:
    response = json_error(401, reason)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response
