"""Artifacts (the files a lab job needs) on the real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib

import requests
from sqlalchemy import text

from server.database import open_database
from tests.server.requests_helpers import TIMEOUT
from tests.server.server_thread import ServerThread

PROGRAM = b"#!/bin/sh\necho hello\n" + bytes(range(256))


def post_artifact(server: ServerThread, content: bytes, token: str | None = None, **params) -> requests.Response:
    headers = {} if token == "" else {"Authorization": f"Bearer {token or server.token}"}
    url = f"{server.url}/api/v1/artifacts"
    return requests.post(url, data=content, params=params, headers=headers, timeout=TIMEOUT)


def get_artifact(server: ServerThread, md5: str) -> requests.Response:
    return requests.get(f"{server.url}/api/v1/artifacts/{md5}", timeout=TIMEOUT)


def test_an_artifact_is_kept_by_its_md5_and_handed_back_byte_for_byte(server):
    md5 = hashlib.md5(PROGRAM).hexdigest()
    first = post_artifact(server, PROGRAM, md5=md5)
    assert (first.status_code, first.json()) == (201, {"md5": md5, "size": len(PROGRAM), "stored": True})
    again = post_artifact(server, PROGRAM)
    assert (again.status_code, again.json()["stored"]) == (200, False)
    answer = get_artifact(server, md5.upper())
    assert answer.status_code == 200 and answer.content == PROGRAM


def test_an_upload_needs_a_token_and_bytes_that_hash_to_the_md5_named(server):
    md5 = hashlib.md5(PROGRAM).hexdigest()
    assert post_artifact(server, PROGRAM, token="").status_code == 401
    assert post_artifact(server, PROGRAM, token="aipep_wrong").status_code == 401
    wrong = post_artifact(server, PROGRAM, md5="0" * 32)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == f"md5: expected the body to hash to {'0' * 32}, it hashes to {md5}"
    assert get_artifact(server, md5).status_code == 404
    assert get_artifact(server, "not-an-md5").status_code == 400


def test_an_upload_over_the_body_limit_is_refused(tmp_path):
    with ServerThread(f"sqlite:///{tmp_path / 'small.db'}", max_body_bytes=1024) as server:
        assert post_artifact(server, b"x" * 2048).status_code == 413
        assert post_artifact(server, b"x" * 512).status_code == 201


def test_a_database_made_before_artifacts_gets_their_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = open_database(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE artifacts"))
    engine.dispose()
    with ServerThread(url) as server:
        assert post_artifact(server, PROGRAM).status_code == 201
