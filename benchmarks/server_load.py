"""How fast the results server takes results in, and how fast it draws a chart, on SQLite and PostgreSQL.

Figures, per database, with the real server (`aipep-server serve`, waitress) in its own
process and this process as the client, over loopback HTTP:

* ingest: results per second (and samples per second) for one client posting records
  one after another with its token, as the harness's remote reporter does; each record
  is an A/B result of NET and several operators with every iteration and round value.
* chart query: p50 and p99 of `GET /api/v1/series` (one test on one device, NET latency)
  once every record is stored, over HTTP and, separately, the SQL alone (series_points),
  so the server's own overhead can be told from the database's. Goal: p50 < 100 ms with
  10^6 samples stored.

Records come from tests/server/sample_history.py (harness.stats on simulated latencies),
built before any timing starts. Both databases keep their default durability (SQLite WAL
with fsync per commit, PostgreSQL with fsync on). The defaults store just over 10^6
samples; --commits, --rounds and --iterations scale them down for a quick look.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from server.database import open_database  # noqa: E402
from server.schema import samples  # noqa: E402
from server.series_query import SeriesQuery, series_points  # noqa: E402
from server.tokens import create_token  # noqa: E402
from tests.server.postgres_cluster import PostgresCluster  # noqa: E402
from tests.server.sample_history import NET_KEY, History, history_records, record_text  # noqa: E402

BACKENDS = ("sqlite", "postgresql")


@dataclass
class Figures:
    ingest_seconds: float
    results: int
    samples: int
    http_ms: list[float]
    sql_ms: list[float]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=121, help="records = commits - 1 (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=40, help="A/B rounds per record (default: %(default)s)")
    parser.add_argument("--iterations", type=int, default=20, help="iterations per round (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=200, help="chart queries timed (default: %(default)s)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma list (default: %(default)s)")
    args = parser.parse_args(argv)
    backends = [name for name in args.backends.split(",") if name]
    history = History(
        commits=args.commits,
        rounds=args.rounds,
        iterations=args.iterations,
        operators=("Conv", "Relu", "MatMul", "Softmax"),
        slow_commit=args.commits // 2,
    )
    print(f"server_load: building {history.commits - 1} records ...", file=sys.stderr, flush=True)
    texts = [record_text(record) for record in history_records(history)]
    figures = {name: measure(name, history, texts, args.queries) for name in backends}
    report(history, texts, figures)
    return 0


def measure(backend: str, history: History, texts: list[str], queries: int) -> Figures:
    print(f"server_load: {backend} ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="aipep-server-load-") as scratch:
        cluster = PostgresCluster(durable=True).start() if backend == "postgresql" else None
        try:
            url = cluster.create_database() if cluster else f"sqlite:///{Path(scratch) / 'results.db'}"
            return _measure_on(url, history, texts, queries)
        finally:
            if cluster:
                cluster.stop()


def _measure_on(url: str, history: History, texts: list[str], queries: int) -> Figures:
    engine = open_database(url)
    token = create_token(engine, "load")
    server = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--db", url, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        base = server.stdout.readline().split("serving ", 1)[1].strip().rstrip("/")
        session = requests.Session()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        for text in texts:
            answer = session.post(f"{base}/api/v1/results", data=text, headers=headers, timeout=120)
            answer.raise_for_status()
        ingest_seconds = time.perf_counter() - started
        query = SeriesQuery(history.model, history.identifier, history.platform, NET_KEY, history.device)
        params = {"model": query.model, "identifier": query.identifier, "platform": query.platform}
        params |= {"device": query.device, "key": query.key}
        http_ms = _timed(
            queries, lambda: session.get(f"{base}/api/v1/series", params=params, timeout=60).raise_for_status()
        )
        sql_ms = _timed(queries, lambda: series_points(engine, query))
        with engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(samples)).scalar()
        return Figures(ingest_seconds, len(texts), stored, http_ms, sql_ms)
    finally:
        server.terminate()
        server.wait(timeout=60)
        server.stdout.close()
        engine.dispose()


def _timed(count: int, action) -> list[float]:
    for _ in range(5):
        action()
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def _percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def report(history: History, texts: list[str], figures: dict[str, Figures]) -> None:
    megabytes = sum(len(text) for text in texts) / 1e6
    any_figures = next(iter(figures.values()))
    print(
        f"server_load: {any_figures.results} results, {any_figures.samples:,} samples stored"
        f" ({history.rounds} rounds x {history.iterations} iterations, NET + {len(history.operators)} operators),"
        f" {megabytes:.0f} MB of JSON posted; chart: {history.commits - 1} points"
    )
    rows = [
        ("ingest, results/s", lambda f: f"{f.results / f.ingest_seconds:.1f}"),
        ("ingest, samples/s", lambda f: f"{f.samples / f.ingest_seconds:,.0f}"),
        ("chart query over HTTP, p50 ms", lambda f: f"{statistics.median(f.http_ms):.1f}"),
        ("chart query over HTTP, p99 ms", lambda f: f"{_percentile(f.http_ms, 0.99):.1f}"),
        ("chart query SQL only, p50 ms", lambda f: f"{statistics.median(f.sql_ms):.1f}"),
        ("chart query SQL only, p99 ms", lambda f: f"{_percentile(f.sql_ms, 0.99):.1f}"),
        ("samples stored", lambda f: f"{f.samples:,}"),
    ]
    names = list(figures)
    print(f"{'':32}" + "".join(f"{name:>14}" for name in names))
    for label, cell in rows:
        print(f"{label:32}" + "".join(f"{cell(figures[name]):>14}" for name in names))


if __name__ == "__main__":
    sys.exit(main())
