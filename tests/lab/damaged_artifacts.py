"""A job whose artifact the server damages after the upload: the one way every lab test sets it up.

The submitter must have uploaded and queued the job before the bytes change, and no worker may
exist yet, so that the worker's download is the first to meet the damaged copy.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import update

from server.schema import artifacts
from tests.lab.lab_processes import Lab, end_submitter
from tests.line_deadline import readline_within


def submit_with_a_damaged_artifact(
    lab: Lab, results_server, kind: str, spec: Path, info: dict, md5: str, damaged: bytes, wait_s: float
) -> subprocess.CompletedProcess:
    """Submit and wait; once the job is queued, the server's copy of artifact `md5` becomes `damaged`
    and a worker for `kind` starts. The submitter's exit status and output come back."""
    arguments = ("--wait", "--timeout", str(wait_s))
    submitter = lab.start_submit(kind, spec, info, *arguments)
    try:
        assert f"queued for {kind!r}" in readline_within(submitter.stderr, wait_s)
        with results_server.engine.begin() as connection:
            connection.execute(update(artifacts).where(artifacts.c.md5 == md5).values(content=damaged))
        lab.start_worker(f"{kind}-box", kind)
        out, err = submitter.communicate(timeout=wait_s + 30)
    finally:
        end_submitter(submitter)
    return subprocess.CompletedProcess(submitter.args, submitter.returncode, out, err)
