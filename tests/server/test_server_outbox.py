"""The remote reporter against the real server: a server killed mid-stream loses and doubles nothing.

The reporter's own tests use a scripted loopback server; this one uses `aipep-server serve`
as users run it, killed with SIGKILL between results (no chance to finish anything) and
started again on the same port, on both databases.
"""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import time
from collections import Counter

import requests

from aipep_core.result_record import MetricResult, RunResult
from harness.reporters.outbox import Outbox
from harness.reporters.quarantine_policy import QuarantinePolicy
from harness.reporters.remote import remote_reporter
from harness.reporters.results_server import RetryPolicy
from harness.reporters.undelivered import Undelivered

TIMEOUT = 60


SERVING = "aipep-server: serving http://127.0.0.1:"


def serve(database_url: str, port: int = 0) -> tuple[subprocess.Popen, int]:
    """`aipep-server serve` on `port` (0: the kernel chooses); the process and the port it listens on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--db", database_url, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready, _, _ = select.select([process.stdout], [], [], TIMEOUT)
    line = process.stdout.readline() if ready else ""
    if not line.startswith(SERVING):
        process.kill()
        _, errors = process.communicate(timeout=TIMEOUT)
        raise ServerDidNotStart(line + errors)
    return process, int(line.removeprefix(SERVING).rstrip("/\n"))


def serve_again(database_url: str, port: int) -> subprocess.Popen:
    """The same server back on its port: free since the kill unless another process's connection borrowed it
    for a moment, so a port in use is tried again until the deadline."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return serve(database_url, port)[0]
        except ServerDidNotStart as failure:
            if "(Address already in use)" not in str(failure) or time.monotonic() > deadline:
                raise
        time.sleep(0.1)


class ServerDidNotStart(AssertionError):
    """The server printed something other than the address it serves."""


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=TIMEOUT)
    process.stdout.close()
    process.stderr.close()


def result(number: int) -> RunResult:
    values = [100.0 + number, 101.0, 99.5]
    net = MetricResult("NET", "latency", "us", values, {"p10": 99.5, "p50": 100.0, "p90": 101.0}, len(values))
    meta = {"model": "outbox", "identifier": "t", "platform": "host", "commit": f"c{number:02}", "commit_time": number}
    return RunResult(meta=meta, data={net.key: net})


def test_a_server_killed_mid_stream_gets_every_result_exactly_once_after_restart(database_url, tmp_path, capsys):
    token = subprocess.run(
        [sys.executable, "-m", "server", "token", "create", "--db", database_url, "--name", "ci"],
        capture_output=True, text=True, timeout=TIMEOUT, check=True,
    ).stdout.splitlines()[-1]  # fmt: skip
    results = [result(number) for number in range(30)]
    server, port = serve(database_url)
    url = f"http://127.0.0.1:{port}"
    reporter = remote_reporter(url, token, tmp_path / "outbox", retry=RetryPolicy(attempts=2, first_delay=0.01))
    try:
        for sent in results[:10]:
            reporter.report(sent)
        kill(server)
        for sent in results[10:20]:
            reporter.report(sent)
        assert len(Outbox(tmp_path / "outbox").queued()) == 10
        server = serve_again(database_url, port)
        for sent in results[20:]:
            reporter.report(sent)
        reporter.close()
        stored = requests.get(f"{url}/api/v1/results", params={"model": "outbox", "limit": 1000}, timeout=TIMEOUT)
    finally:
        kill(server)
    ids = Counter(record["id"] for record in stored.json())
    assert ids == Counter(sent.id for sent in results)
    assert [record["meta"]["commit"] for record in stored.json()] == [f"c{n:02}" for n in reversed(range(30))]
    assert Outbox(tmp_path / "outbox").queued() == []
    assert f"results server: delivered 30 results to {url} (10 queued earlier)\n" in capsys.readouterr().err


def test_a_record_the_server_cannot_store_never_holds_back_the_others(server, tmp_path):
    """A NUL in a name: PostgreSQL cannot store it, SQLite can; either way the results behind it arrive."""
    poisoned = result(0)
    poisoned.meta["model"] = "out\x00box"
    later = [result(number) for number in range(1, 4)]
    outbox = Outbox(tmp_path / "outbox")
    undelivered = Undelivered()
    policy = QuarantinePolicy(attempts=2, span_seconds=0)
    for batch in ([poisoned, *later[:2]], later[2:]):
        reporter = remote_reporter(
            server.url, server.token, outbox.root, undelivered, retry=RetryPolicy(attempts=2, first_delay=0.01),
            quarantine=policy,
        )  # fmt: skip
        reporter.deliver_queued()
        for sent in batch:
            reporter.report(sent)
        reporter.close()
    stored = requests.get(f"{server.url}/api/v1/results", params={"model": "outbox"}, timeout=TIMEOUT).json()
    assert sorted(record["id"] for record in stored) == sorted(sent.id for sent in later)
    assert outbox.queued() == []
    poisoned_stored = requests.get(f"{server.url}/api/v1/results/{poisoned.id}", timeout=TIMEOUT).status_code == 200
    kept = [
        path.name
        for folder in (outbox.rejected_dir, outbox.quarantine_dir)
        if folder.exists()
        for path in folder.iterdir()
    ]
    assert poisoned_stored or kept == [f"{poisoned.id}.json"]
    assert bool(undelivered) is not poisoned_stored
