"""Talking to the server under test the way the harness's remote reporter does: requests over HTTP."""

from __future__ import annotations

import requests

from tests.server.sample_history import record_text
from tests.server.server_thread import ServerThread

TIMEOUT = 60


def post_record(server: ServerThread, record: dict | str | bytes, token: str | None = None) -> requests.Response:
    body = record_text(record) if isinstance(record, dict) else record
    token = server.token if token is None else token
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(f"{server.url}/api/v1/results", data=body, headers=headers, timeout=TIMEOUT)


def get_json(server: ServerThread, path: str, **params) -> requests.Response:
    return requests.get(f"{server.url}{path}", params=params, timeout=TIMEOUT)
