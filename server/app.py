"""The Flask application: the API, the dashboard and the error answers they share.

Flask, because it is the most widely known small WSGI framework: routing, Jinja
templates and a request object, and nothing to learn beyond them; the server is a
dozen endpoints over SQL, which needs no more. Any WSGI server can run it; the command
line uses waitress (see serve.py).

Every request first takes one unit of its client address's request allowance (see
limits.py), before any route runs or the database is touched, so refusing a client
over its rate costs next to nothing.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from server.api import PREFIX, api
from server.artifacts import artifacts_api
from server.dashboard import dashboard
from server.http_json import body_limit_reason, json_error, too_many_requests
from server.server_state import EXTENSION, GUARDS, Guards, ServerState, current_guards, current_state


def create_app(state: ServerState) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = state.max_body_bytes
    app.extensions[EXTENSION] = state
    app.extensions[GUARDS] = Guards.for_limits(state.limits)
    app.before_request(_request_allowance)
    app.register_blueprint(api)
    app.register_blueprint(artifacts_api)
    app.register_blueprint(dashboard)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _request_allowance() -> Response | None:
    buckets = current_guards().requests
    if buckets is None:
        return None
    address = request.remote_addr or "unknown"
    wait = buckets.take(address)
    if wait == 0.0:
        return None
    limit = current_state().limits.requests_per_minute
    reason = f"more than {limit} requests per minute from {address} (aipep-server --requests_per_minute)"
    return too_many_requests(reason, wait)


def _http_error(error: HTTPException) -> Response | HTTPException:
    """API clients get JSON for every refusal (unknown path, wrong method, too large); pages keep HTML."""
    if request.path.startswith(PREFIX + "/"):
        reason = error.description or error.name
        if error.code == 413:
            reason = body_limit_reason(current_state().max_body_bytes)
        response = json_error(error.code or 500, reason)
        response.headers.extend(header for header in error.get_headers() if header[0] != "Content-Type")
        return response
    return error
