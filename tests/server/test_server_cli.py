"""`aipep-server` as users run it: real subprocesses, one-line errors, tokens that really open and close the door."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from aipep_core.result_record import MetricResult, RunResult
from harness.store.result_store import ResultStore
from tests.line_deadline import readline_within
from tests.server.sample_history import History, history_records, record_text

TIMEOUT = 60


def aipep_server(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *arguments], capture_output=True, text=True, timeout=TIMEOUT)


def assert_one_line_error(done: subprocess.CompletedProcess, *fragments: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("aipep-server: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_tokens_are_created_listed_and_revoked_by_name(database_url):
    created = aipep_server("token", "create", "--db", database_url, "--name", "ci")
    assert created.returncode == 0, created.stderr
    token = created.stdout.splitlines()[-1]
    assert token.startswith("aipep_") and len(token) > 40
    assert token not in aipep_server("token", "list", "--db", database_url).stdout
    assert_one_line_error(aipep_server("token", "create", "--db", database_url, "--name", "ci"), "revoke it first")

    listed = aipep_server("token", "list", "--db", database_url)
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[0].startswith("ci\tcreated ")
    assert listed.stdout.splitlines()[0].endswith("\tactive")

    assert aipep_server("token", "revoke", "--db", database_url, "--name", "ci").stdout == "token 'ci' revoked\n"
    assert "\trevoked " in aipep_server("token", "list", "--db", database_url).stdout
    assert_one_line_error(aipep_server("token", "revoke", "--db", database_url, "--name", "ci"), "unknown or revoked")
    again = aipep_server("token", "create", "--db", database_url, "--name", "ci")
    assert again.returncode == 0
    assert again.stdout.splitlines()[-1] != token


class ServeProcess:
    """`aipep-server serve --port 0` in a subprocess; the port comes from its first line."""

    def __init__(self, database_url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--db", database_url, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = readline_within(self.process.stdout, TIMEOUT)
        assert line.startswith("aipep-server: serving http://127.0.0.1:"), line + self.process.stderr.read()
        self.url = line.split("serving ", 1)[1].strip().rstrip("/")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=TIMEOUT)
        finally:
            if self.process.poll() is None:  # a server that ignored Ctrl-C must not outlive its test
                self.process.kill()
                self.process.wait(timeout=TIMEOUT)
            self.process.stdout.close()
            self.process.stderr.close()


def test_a_served_database_accepts_a_token_until_it_is_revoked(database_url):
    token = aipep_server("token", "create", "--db", database_url, "--name", "ci").stdout.splitlines()[-1]
    first, second = history_records(History(commits=3, rounds=4, iterations=4))
    served = ServeProcess(database_url)
    try:

        def post(record: dict) -> requests.Response:
            return requests.post(
                f"{served.url}/api/v1/results",
                data=record_text(record),
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT,
            )

        assert post(first).status_code == 201
        assert aipep_server("token", "revoke", "--db", database_url, "--name", "ci").returncode == 0
        assert post(second).status_code == 401
        stored = requests.get(f"{served.url}/api/v1/results", timeout=TIMEOUT).json()
        assert [record["id"] for record in stored] == [first["id"]]
    finally:
        assert served.stop() == 0


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("results.db", "expected sqlite:///PATH or postgresql://"),
        ("mysql://root@localhost/results", "got the 'mysql' scheme"),
        ("sqlite://", "in-memory SQLite database would vanish"),
        ("sqlite:///no/such/directory/results.db", "unable to open database file"),
    ],
)
def test_a_bad_db_url_is_one_line(url, fragment):
    assert_one_line_error(aipep_server("serve", "--db", url, "--port", "0"), "--db", fragment)


def test_an_unreachable_postgresql_is_one_line():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = aipep_server("token", "list", "--db", f"postgresql://nobody:secret@127.0.0.1:{port}/results")
    assert_one_line_error(done, f"--db postgresql://nobody:***@127.0.0.1:{port}/results: ")
    assert "secret" not in done.stderr


def test_a_database_of_something_else_is_refused(tmp_path: Path):
    with ResultStore(tmp_path / "aipep.db") as store:
        store.save_run(
            RunResult(meta={"model": "m"}, data={"NET latency": MetricResult("NET", "latency", "us", [1.0], {}, 1)})
        )
    done = aipep_server("token", "list", "--db", f"sqlite:///{tmp_path / 'aipep.db'}")
    assert_one_line_error(done, "expected an empty or aipep-server database, got one with other tables")


def test_a_port_in_use_is_one_line(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = aipep_server("serve", "--db", f"sqlite:///{tmp_path / 'r.db'}", "--port", str(port))
    assert_one_line_error(done, f"--host 127.0.0.1 --port {port}: cannot listen there (Address already in use)")


def test_usage_mistakes_are_one_line(tmp_path: Path):
    assert_one_line_error(aipep_server("serve"), "the following arguments are required: --db")
    assert_one_line_error(aipep_server("token", "create", "--db", f"sqlite:///{tmp_path / 'r.db'}"), "--name")
    assert_one_line_error(
        aipep_server("serve", "--db", f"sqlite:///{tmp_path / 'r.db'}", "--max_body_mb", "0"), "--max_body_mb"
    )
    negative = (("--max_connections", "0"), ("--requests_per_minute", "-1"), ("--samples_per_token_hour", "-1"))
    for flag, value in negative:
        done = aipep_server("serve", "--db", f"sqlite:///{tmp_path / 'r.db'}", flag, value)
        assert_one_line_error(done, flag, f"got {value}")
