"""Whether the results server keeps answering while hostile clients hold it, and what its busiest read costs.

Figures, with the real server (`aipep-server serve`, SQLite) in its own process and this
process as every client, over loopback:

* slowloris: 200 connections each send half a request header and then nothing, and are
  held open; meanwhile one client sends normal requests (`GET /api/v1/regressions`) one
  after another. Printed: p50, p99 and max latency of those requests, and how many were
  not answered with 200 within their deadline (before the fix, all of them: waitress
  stopped accepting at 100 open connections).
* open regressions under load: 200 clients ask for `GET /api/v1/regressions` at once,
  a few times over, on a stored history of several devices. Printed: p50 and p99 latency
  with the answer computed per request (`--regressions_cache_seconds 0`, as before) and
  with the server's default, which computes it once per interval for all readers.
  The request rate limit is turned off for this part, so the figure is the server's cost
  rather than its refusals.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from server.database import open_database  # noqa: E402
from server.tokens import create_token  # noqa: E402
from tests.server.sample_history import History, history_records, record_text  # noqa: E402

STARTUP_SECONDS = 60
DEADLINE_SECONDS = 30


class ServedProcess:
    """`aipep-server serve` on a free port; the port is read from the line it prints."""

    def __init__(self, database: str, *flags: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--db", database, "--port", "0", *flags],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline()
        if "serving http://" not in line:
            self.stop()
            raise RuntimeError(f"aipep-server did not start: {line!r}")
        self.url = line.split("serving ", 1)[1].strip().rstrip("/")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=STARTUP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STARTUP_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held", type=int, default=200, help="half-open connections held (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=50, help="normal requests timed (default: %(default)s)")
    parser.add_argument("--readers", type=int, default=200, help="concurrent readers (default: %(default)s)")
    parser.add_argument("--waves", type=int, default=3, help="times the readers ask at once (default: %(default)s)")
    parser.add_argument("--commits", type=int, default=41, help="history length per device (default: %(default)s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aipep-slowloris-") as scratch:
        database = f"sqlite:///{Path(scratch) / 'results.db'}"
        _seed(database, args.commits)
        slowloris(database, args.held, args.requests)
        for label, seconds in (("computed per request", "0"), ("server default", None)):
            flags = ["--requests_per_minute", "0"] + (["--regressions_cache_seconds", seconds] if seconds else [])
            regressions_under_load(database, label, flags, args.readers, args.waves)
    return 0


def _seed(database: str, commits: int) -> None:
    engine = open_database(database)
    token = create_token(engine, "benchmark")
    engine.dispose()
    history = History(commits=commits, rounds=8, iterations=8, operators=("Conv", "Relu", "MatMul", "Softmax"))
    records = [
        record
        for device, slow in (("board-1", commits // 2), ("board-2", commits - 1), ("phone", None))
        for record in history_records(replace(history, device=device, slow_commit=slow, seed=len(device)))
    ]
    served = ServedProcess(database, "--requests_per_minute", "0")
    try:
        with requests.Session() as session:
            for record in records:
                answer = session.post(
                    f"{served.url}/api/v1/results",
                    data=record_text(record),
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=DEADLINE_SECONDS,
                )
                answer.raise_for_status()
    finally:
        served.stop()
    print(f"stored {len(records)} results on 3 devices", flush=True)


def slowloris(database: str, held: int, count: int) -> None:
    served = ServedProcess(database)
    host, port = served.url.removeprefix("http://").split(":")
    connections = []
    try:
        for _ in range(held):
            connection = socket.create_connection((host, int(port)), timeout=DEADLINE_SECONDS)
            connection.sendall(b"GET /api/v1/regressions HTTP/1.1\r\nHost: slow\r\nX-Waiting: ")
            connections.append(connection)
        latencies, failures = [], 0
        for _ in range(count):
            started = time.perf_counter()
            try:
                ok = requests.get(f"{served.url}/api/v1/regressions", timeout=DEADLINE_SECONDS).status_code == 200
            except requests.RequestException:
                ok = False
            latencies.append(time.perf_counter() - started)
            failures += not ok
        print(
            f"slowloris: {held} half-open connections held; {count} normal requests: {_figures(latencies)}, "
            f"{failures} not answered 200 within {DEADLINE_SECONDS} s",
            flush=True,
        )
    finally:
        for connection in connections:
            connection.close()
        served.stop()


def regressions_under_load(database: str, label: str, flags: list[str], readers: int, waves: int) -> None:
    served = ServedProcess(database, *flags)
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    try:
        for _ in range(waves):
            start = threading.Barrier(readers)

            def read(start: threading.Barrier = start) -> None:
                start.wait(timeout=DEADLINE_SECONDS)
                started = time.perf_counter()
                try:
                    ok = requests.get(f"{served.url}/api/v1/regressions", timeout=120).status_code == 200
                except requests.RequestException:
                    ok = False
                with lock:
                    latencies.append(time.perf_counter() - started)
                    failures[0] += not ok

            threads = [threading.Thread(target=read) for _ in range(readers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
        print(
            f"open regressions, {readers} readers at once x {waves} ({label}): {_figures(latencies)}, "
            f"{failures[0]} failed",
            flush=True,
        )
    finally:
        served.stop()


def _figures(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


if __name__ == "__main__":
    sys.exit(main())
