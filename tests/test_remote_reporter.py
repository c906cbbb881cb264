"""The remote reporter and its outbox against a real HTTP server on loopback.

The server speaks the results server's contract (POST and GET /api/v1/results, bearer
tokens, 201/200 idempotent on the id, 400/401/413) with a dict as storage, and can be
stopped and restarted on its port, made to fail or to dawdle, so every way delivery
goes wrong reaches the real requests client over a real socket.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from aipep_core.result_record import MetricResult, RunResult
from harness.cli import main
from harness.reporters.outbox import Outbox, default_outbox_dir
from harness.reporters.remote import RemoteReporter, remote_reporter
from harness.reporters.results_server import ResultsServer, RetryPolicy, Timeouts
from harness.reporters.undelivered import Undelivered
from harness.store.result_store import ResultStore
from tests.shipped_specs import MICROKERNEL_SPEC

REPO = Path(__file__).resolve().parent.parent
TOKEN = "good-token-1234"
QUICK_RETRY = RetryPolicy(attempts=3, first_delay=0.01)
RESULTS = "/api/v1/results"


class LoopbackResultsServer:
    """The results server's contract on 127.0.0.1, scripted by attributes a test sets between requests."""

    def __init__(self, tokens: frozenset[str] = frozenset({TOKEN}), max_body: int = 1_000_000) -> None:
        self.tokens = tokens
        self.max_body = max_body
        self.records: dict[str, dict] = {}
        self.created: Counter[str] = Counter()
        self.posts = 0
        self.fail_next = 0
        self.failing_ids: set[str] = set()
        self.error_page_bytes = 0
        self.error_page_bytes_sent = 0
        self.posts_by_id: Counter[str] = Counter()
        self.delay = 0.0
        self.stop_after_stored: int | None = None
        self.lock = threading.Lock()
        self.port = 0
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackResultsServer:
        """Listen on the same port as before, if there was a before."""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        httpd, thread, self.httpd = self.httpd, self.thread, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            thread.join()

    def stop_soon(self) -> None:
        """Stop from inside a request handler, which cannot wait for its own server to shut down."""
        threading.Thread(target=self.stop, daemon=True).start()

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, object]:
        """The body is read whatever the answer: closing on unread bytes would reset the connection."""
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        with self.lock:
            self.posts += 1
            if self.fail_next:
                self.fail_next -= 1
                return 503, {"error": "try again later"}
        if handler.headers.get("Authorization") not in {f"Bearer {token}" for token in self.tokens}:
            return 401, {"error": "unknown or revoked token"}
        if length > self.max_body:
            return 413, {"error": f"body of {length} bytes is over the limit of {self.max_body}"}
        try:
            document = json.loads(body)
        except ValueError as error:
            return 400, {"error": f"not JSON: {error}"}
        problem = _invalid(document)
        if problem:
            return 400, {"error": problem}
        with self.lock:
            self.posts_by_id[document["id"]] += 1
        if self.error_page_bytes:
            return 500, ErrorPage(self.error_page_bytes)
        if document["id"] in self.failing_ids:
            return 500, {"error": "internal server error: the database refused the record"}
        time.sleep(self.delay)
        with self.lock:
            created = document["id"] not in self.records
            if created:
                self.records[document["id"]] = document
                self.created[document["id"]] += 1
                if self.stop_after_stored is not None and len(self.records) >= self.stop_after_stored:
                    self.stop_after_stored = None
                    self.stop_soon()
        return (201 if created else 200), {"id": document["id"], "created": created}

    def query(self, **filters: str) -> list[dict]:
        with self.lock:
            records = list(self.records.values())
        fields = {"model": "model", "identifier": "identifier", "platform": "platform", "commit": "commit"}
        wanted = {fields[name]: value for name, value in filters.items() if value}
        return [r for r in reversed(records) if all(str(r["meta"].get(k)) == v for k, v in wanted.items())]


@dataclass(frozen=True)
class ErrorPage:
    """An error answer of `size` bytes of HTML, written a chunk at a time so the server never holds it."""

    size: int


def _invalid(document: object) -> str | None:
    if not isinstance(document, dict):
        return "expected a JSON object"
    if not isinstance(document.get("id"), str) or not document["id"]:
        return "id: expected a non-empty string"
    if document.get("status") not in ("success", "failure"):
        return f"status: expected success or failure, got {document.get('status')!r}"
    if not isinstance(document.get("meta"), dict) or not isinstance(document.get("data"), dict):
        return "meta and data: expected objects"
    return None


def _handler_for(server: LoopbackResultsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != RESULTS:
                self._send(404, {"error": "no such endpoint"})
                return
            status, document = server.answer(self)
            if isinstance(document, ErrorPage):
                self._send_page(status, document.size)
            else:
                self._send(status, document)

        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path != RESULTS:
                self._send(404, {"error": "no such endpoint"})
                return
            filters = dict(item.split("=", 1) for item in query.split("&") if "=" in item)
            self._send(200, server.query(**filters))

        def _send(self, status: int, document: object) -> None:
            body = json.dumps(document).encode()
            # A client that gave up waiting (a read timeout) has left nobody to answer.
            with contextlib.suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def _send_page(self, status: int, size: int) -> None:
            """Stops when the client hangs up; what was sent by then is counted."""
            chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>"
            with contextlib.suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                while server.error_page_bytes_sent < size:
                    part = chunk[: size - server.error_page_bytes_sent]
                    self.wfile.write(part)
                    server.error_page_bytes_sent += len(part)
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: one access-log line per request would bury pytest's output."""

    return Handler


@pytest.fixture
def server():
    running = LoopbackResultsServer().start()
    yield running
    running.stop()


def make_result(number: int = 0, status: str = "success") -> RunResult:
    metric = MetricResult(
        type="NET", metric="latency", unit="us", values=[10.0 + number, 11.0], summary={"p50": 10.5}, num_runs=2
    )
    meta = {"model": "m", "identifier": "t", "platform": "host", "commit": f"c{number}", "commit_time": number}
    return RunResult(meta=meta, data={metric.key: metric}, status=status)


def reporter_for(server: LoopbackResultsServer, tmp_path: Path, token: str = TOKEN, **options) -> RemoteReporter:
    reporter = remote_reporter(
        server.url, token, tmp_path / "outbox", options.pop("undelivered", None), retry=QUICK_RETRY, **options
    )
    reporter.deliver_queued()
    return reporter


def pending(tmp_path: Path) -> list[Path]:
    return Outbox(tmp_path / "outbox").queued()


def test_each_result_is_posted_at_once_and_readable_back(server, tmp_path, capsys):
    reporter = reporter_for(server, tmp_path)
    first, second = make_result(1), make_result(2)
    reporter.report(first)
    assert set(server.records) == {first.id}
    reporter.report(second)
    reporter.close()
    assert server.created == Counter({first.id: 1, second.id: 1})
    stored = requests.get(f"{server.url}{RESULTS}", params={"model": "m", "commit": "c1"}, timeout=5).json()
    assert [record["id"] for record in stored] == [first.id]
    assert stored[0]["data"]["NET latency"]["values"] == [11.0, 11.0]
    assert pending(tmp_path) == []
    assert capsys.readouterr().err == f"harness: results server: delivered 2 results to {server.url}\n"


def test_server_errors_are_retried_without_duplicates(server, tmp_path, capsys):
    server.fail_next = 2
    reporter = reporter_for(server, tmp_path)
    result = make_result()
    reporter.report(result)
    reporter.close()
    assert server.posts == 3
    assert server.created == Counter({result.id: 1})
    assert pending(tmp_path) == []
    assert capsys.readouterr().err == f"harness: results server: delivered 1 result to {server.url}\n"


def test_server_down_queues_and_the_next_run_delivers_each_once(server, tmp_path, capsys):
    server.stop()
    reporter = reporter_for(server, tmp_path)
    results = [make_result(number) for number in range(5)]
    for result in results:
        reporter.report(result)
    reporter.close()
    err = capsys.readouterr().err
    assert err.count("cannot deliver results (Connection refused)") == 1
    assert "5 results wait in" in err
    assert len(pending(tmp_path)) == 5

    server.start()
    reporter_for(server, tmp_path).close()
    assert server.created == Counter({result.id: 1 for result in results})
    assert pending(tmp_path) == []
    assert (
        capsys.readouterr().err == f"harness: results server: delivered 5 results to {server.url} (5 queued earlier)\n"
    )


def test_queue_goes_oldest_first_before_this_runs_results(server, tmp_path):
    server.stop()
    earlier = reporter_for(server, tmp_path)
    old = [make_result(number) for number in range(3)]
    for result in old:
        earlier.report(result)
    earlier.close()
    server.start()
    new = make_result(9)
    later = reporter_for(server, tmp_path)
    later.report(new)
    later.close()
    assert list(server.records) == [result.id for result in old] + [new.id]


def test_server_stopped_mid_stream_and_restarted_gets_every_result_once(server, tmp_path, capsys):
    results = [make_result(number) for number in range(30)]
    reporter = reporter_for(server, tmp_path)
    for result in results[:10]:
        reporter.report(result)
    server.stop()
    for result in results[10:20]:
        reporter.report(result)
    assert len(pending(tmp_path)) == 10
    server.start()
    for result in results[20:]:
        reporter.report(result)
    reporter.close()
    assert sorted(server.created) == sorted(result.id for result in results)
    assert set(server.created.values()) == {1}
    assert pending(tmp_path) == []
    assert (
        f"harness: results server: delivered 30 results to {server.url} (10 queued earlier)\n"
        in capsys.readouterr().err
    )


def test_server_dying_while_the_queue_drains_loses_and_repeats_nothing(server, tmp_path):
    server.stop()
    queued = reporter_for(server, tmp_path)
    results = [make_result(number) for number in range(20)]
    for result in results:
        queued.report(result)
    queued.close()
    server.stop_after_stored = 7
    server.start()
    reporter_for(server, tmp_path).close()
    assert len(server.records) >= 7 and len(pending(tmp_path)) == 20 - len(server.records)
    server.start()
    reporter_for(server, tmp_path).close()
    assert sorted(server.created) == sorted(result.id for result in results)
    assert set(server.created.values()) == {1}
    assert pending(tmp_path) == []


def test_a_resend_of_a_stored_result_is_absorbed(server, tmp_path):
    """A crash between the server's 201 and the file's removal leaves the file: it is sent again, once."""
    result = make_result()
    reporter = reporter_for(server, tmp_path)
    reporter.report(result)
    reporter.close()
    Outbox(tmp_path / "outbox").put(result.id, json.dumps(result.to_json()))
    reporter_for(server, tmp_path).close()
    assert server.posts == 2 and server.created == Counter({result.id: 1})
    assert pending(tmp_path) == []


def test_slow_server_times_out_and_the_result_waits(server, tmp_path, capsys):
    server.delay = 1.0
    reporter = reporter_for(server, tmp_path, timeouts=Timeouts(connect=1.0, read=0.1))
    result = make_result()
    reporter.report(result)
    assert [path.stem for path in pending(tmp_path)] == [result.id]
    assert "cannot deliver results (no answer within 0.1 s)" in capsys.readouterr().err
    server.delay = 0.0
    reporter.close()
    assert pending(tmp_path) == []
    assert server.created == Counter({result.id: 1})


def test_refused_token_is_one_clear_line_and_nothing_is_queued(server, tmp_path, capsys):
    undelivered = Undelivered()
    reporter = reporter_for(server, tmp_path, token="revoked-secret", undelivered=undelivered)
    results = [make_result(number) for number in range(3)]
    for result in results:
        reporter.report(result)
    reporter.close()
    err = capsys.readouterr().err
    assert err == (
        f"harness: {server.url} refused the access token (401: unknown or revoked token); this run's results are "
        "not sent (the local store keeps them): check --remote_access_token or AIPEP_REMOTE_ACCESS_TOKEN\n"
    )
    assert "revoked-secret" not in err
    assert server.posts == 1 and server.records == {}
    assert pending(tmp_path) == []
    assert undelivered.token_refused == [result.id for result in results]


def test_refused_token_leaves_earlier_runs_queue_for_a_good_token(server, tmp_path):
    server.stop()
    earlier = reporter_for(server, tmp_path)
    queued = make_result(1)
    earlier.report(queued)
    earlier.close()
    server.start()
    refused = reporter_for(server, tmp_path, token="wrong")
    refused.report(make_result(2))
    refused.close()
    assert [path.stem for path in pending(tmp_path)] == [queued.id]
    reporter_for(server, tmp_path).close()
    assert list(server.records) == [queued.id]


@pytest.mark.parametrize(("status", "server_options", "reason"), [
    (400, {}, "status: expected success or failure, got 'bogus'"),
    (413, {"max_body": 100}, "over the limit of 100"),
])  # fmt: skip
def test_rejected_record_is_kept_aside_with_the_reason(tmp_path, capsys, status, server_options, reason):
    server = LoopbackResultsServer(**server_options).start()
    try:
        undelivered = Undelivered()
        reporter = reporter_for(server, tmp_path, undelivered=undelivered)
        result = make_result(status="bogus" if status == 400 else "success")
        reporter.report(result)
        reporter.close()
    finally:
        server.stop()
    assert server.posts == 1 and server.records == {}
    assert pending(tmp_path) == [] and undelivered.rejected == [result.id]
    kept = tmp_path / "outbox" / "rejected" / f"{result.id}.json"
    record = json.loads(kept.read_text())
    assert record["status"] == status and reason in record["reason"]
    assert record["server"] == server.url and record["result"]["id"] == result.id
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"harness: {server.url} rejected result {result.id} ({status}: ")
    assert reason in line and str(kept) in line


def test_corrupt_outbox_files_are_set_aside_and_the_rest_delivered(server, tmp_path, capsys):
    outbox = Outbox(tmp_path / "outbox")
    good = make_result()
    outbox.put(good.id, json.dumps(good.to_json()))
    outbox.pending_dir.joinpath("0123abcd.json").write_text('{"id": "0123abcd", "meta": {"mod')
    outbox.pending_dir.joinpath("deadbeef.json").write_text(json.dumps(make_result().to_json()))
    outbox.pending_dir.joinpath(".half-written.json.tmp").write_text("{")
    reporter_for(server, tmp_path).close()
    assert list(server.records) == [good.id]
    assert sorted(path.name for path in outbox.corrupt_dir.iterdir()) == ["0123abcd.json", "deadbeef.json"]
    lines = capsys.readouterr().err.splitlines()
    assert any("0123abcd.json: not a queued result (not JSON" in line for line in lines)
    assert any("deadbeef.json: not a queued result (holds id" in line for line in lines)
    assert lines[-1] == f"harness: results server: delivered 1 result to {server.url} (1 queued earlier)"
    assert pending(tmp_path) == []


def test_bad_remote_flags_are_one_line_before_anything_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AIPEP_REMOTE_ACCESS_TOKEN", raising=False)
    base = ["-b", str(MICROKERNEL_SPEC), "--db", str(tmp_path / "aipep.db"), "--remote_outbox", str(tmp_path / "o")]
    url = ["--remote_reporter", "http://127.0.0.1:9"]
    (tmp_path / "a_file").write_text("")
    cases = [
        (["--remote_reporter", "ftp://example"], "--remote_reporter: expected an http:// or https:// URL"),
        (["--remote_reporter", "http://user:secret@127.0.0.1:9"], "without user or password"),
        (url, "--remote_access_token: expected a token"),
        ([*url, "--remote_access_token", "two words"], "without spaces"),
        ([*url, "--remote_access_token", "t", "--remote_outbox", str(tmp_path / "a_file" / "o")], "cannot create"),
    ]
    for flags, expected in cases:
        assert main([*base, *flags]) == 2
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1 and "secret" not in err and "two words" not in err
    assert not (tmp_path / "aipep.db").exists()


def test_default_outbox_is_per_server_under_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    first = default_outbox_dir("http://127.0.0.1:8080")
    assert first == default_outbox_dir("http://127.0.0.1:8080/")
    assert first.parent == tmp_path / "aipep" / "outbox" and first.name.startswith("127.0.0.1_8080-")
    assert default_outbox_dir("http://127.0.0.1:8081") != first
    assert default_outbox_dir("http://127.0.0.1:8080/team-b") != first


def test_results_server_reports_connection_refused_plainly():
    server = LoopbackResultsServer().start()
    server.stop()
    client = ResultsServer(server.url, TOKEN)
    outcome = client.post("{}", RetryPolicy(attempts=1))
    client.close()
    assert (outcome.status, outcome.reason) == (None, "Connection refused")


def harness(tmp_path, server, *args):
    return main([
        "-b", str(MICROKERNEL_SPEC),
        "--db", str(tmp_path / "aipep.db"),
        "--model_cache", str(tmp_path / "models"),
        "--simple_screen_reporter",
        "--remote_reporter", server.url,
        "--remote_outbox", str(tmp_path / "outbox"),
        *args,
    ])  # fmt: skip


def test_harness_sends_its_result_queues_when_down_and_names_a_refused_token(
    server, tmp_path, build_microkernel, capsys, monkeypatch
):
    info = json.dumps({"treatment": {"program": str(build_microkernel()), "commit": "new", "commit_time": 2}})
    monkeypatch.setenv("AIPEP_REMOTE_ACCESS_TOKEN", TOKEN)

    assert harness(tmp_path, server, "--info", info) == 0
    out, err = capsys.readouterr()
    (sent,) = server.query(model="microkernel", identifier="microkernel_default", platform="host", commit="new")
    assert json.loads(out.splitlines()[-1])["id"] == sent["id"] and sent["data"]["NET latency"]["num_runs"] == 20
    assert err == f"harness: results server: delivered 1 result to {server.url}\n"

    server.stop()
    assert harness(tmp_path, server, "--info", info) == 0
    assert "cannot deliver results" in capsys.readouterr().err
    (queued,) = pending(tmp_path)
    server.start()
    assert harness(tmp_path, server, "--info", info, "--remote_access_token", "not-the-token") == 4
    err = capsys.readouterr().err
    assert "refused the access token" in err and "not-the-token" not in err and TOKEN not in err
    assert pending(tmp_path) == [queued]

    assert harness(tmp_path, server, "--info", info) == 0
    assert (
        f"harness: results server: delivered 2 results to {server.url} (1 queued earlier)\n" in capsys.readouterr().err
    )
    assert len(server.records) == 3 and set(server.created.values()) == {1}
    with ResultStore(tmp_path / "aipep.db") as store:
        stored = {run.id for run in store.find_runs(model="microkernel")}
    assert len(stored) == 4 and set(server.records) < stored
