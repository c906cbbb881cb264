"""Artifacts: files (programs, models, specs) a lab job needs, kept by the md5 of their bytes.

A lab worker must never run a path a job names, since the path means nothing on its host
and anything could stand there. So the submitter uploads each file here and the job names
it by md5; the worker fetches it and checks the md5 itself before anything runs. Uploads
need a token, as results do, so no one without one can plant a program; reads are open,
as results are, and the address is the content's own hash. An upload is capped by the
server's body limit (`--max_body_mb`). A client may say which md5 it means (`?md5=`), and
bytes that do not hash to it are refused, so a damaged upload is never kept under a name.
"""

from __future__ import annotations

import hashlib
import re
import time

from flask import Blueprint, Response, request
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from server.api import PREFIX, bearer_token
from server.http_json import json_error, json_response
from server.schema import artifacts
from server.server_state import current_state

MD5_PATTERN = re.compile(r"^[0-9a-f]{32}$")

artifacts_api = Blueprint("artifacts_api", __name__, url_prefix=PREFIX)


@artifacts_api.post("/artifacts")
def post_artifact() -> Response:
    token = bearer_token()
    if isinstance(token, Response):
        return token
    content = request.get_data(cache=False)
    md5 = hashlib.md5(content).hexdigest()
    expected = request.args.get("md5")
    if expected is not None and expected.lower() != md5:
        return json_error(400, f"md5: expected the body to hash to {expected}, it hashes to {md5}")
    engine = current_state().engine
    stored = False
    try:
        with engine.begin() as connection:
            if connection.execute(select(artifacts.c.md5).where(artifacts.c.md5 == md5)).first() is None:
                row = {"md5": md5, "size": len(content), "content": content, "received_at": time.time()}
                connection.execute(insert(artifacts).values(**row))
                stored = True
    except IntegrityError:
        # Another upload of the same bytes won the race: they are kept, which is all that was asked.
        stored = False
    return json_response({"md5": md5, "size": len(content), "stored": stored}, status=201 if stored else 200)


@artifacts_api.get("/artifacts/<md5>")
def get_artifact(md5: str) -> Response:
    md5 = md5.lower()
    if not MD5_PATTERN.match(md5):
        return json_error(400, f"md5: expected 32 hexadecimal digits, got {md5[:64]!r}")
    engine = current_state().engine
    with engine.connect() as connection:
        content = connection.execute(select(artifacts.c.content).where(artifacts.c.md5 == md5)).scalar()
    if content is None:
        return json_error(404, f"no artifact with md5 {md5}")
    return Response(bytes(content), mimetype="application/octet-stream")
