"""Fixtures of the server tests: both databases, and a running server on each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.postgres_cluster import PostgresCluster
from tests.server.server_thread import ServerThread

BACKENDS = ("sqlite", "postgresql")
REPO = Path(__file__).resolve().parents[2]
MICROKERNEL_SPEC = REPO / "specifications" / "models" / "microkernel" / "microkernel" / "microkernel.json"


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL cluster for the session; missing binaries fail the tests, since CI installs them."""
    try:
        cluster = PostgresCluster().start()
    except FileNotFoundError as error:
        pytest.fail(f"{error}; the server tests need a real PostgreSQL")
    yield cluster
    cluster.stop()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> str:
    """A new, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'results.db'}"
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture
def server(database_url):
    with ServerThread(database_url) as running:
        yield running


@pytest.fixture(scope="session")
def harness_record(build_microkernel, tmp_path_factory) -> dict:
    """A record the real harness wrote for a real A/B run of the microkernel with a slower Conv."""
    out = tmp_path_factory.mktemp("harness-results")
    info = {
        "treatment": {"program": str(build_microkernel("-DCONV_UNITS=130")), "commit": "c0ffee01", "commit_time": 2},
        "control": {"program": str(build_microkernel()), "commit": "c0ffee00", "commit_time": 1},
    }
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-b", str(MICROKERNEL_SPEC), "--framework", "microkernel"]
        + ["--info", json.dumps(info), "--local_reporter", str(out), "--no_db", "--max_rounds", "8"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (path,) = out.rglob("result.json")
    return json.loads(path.read_text())
