"""The results server against hostile clients, on a real server over loopback, on SQLite and PostgreSQL.

Each test sends what a careless or malicious client could send (NUL bytes, lone surrogates,
numbers no column holds, deep nesting, half-sent headers, millions of samples, huge names)
and checks that the server answers with a reason instead of failing, stalling or storing it.
"""

from __future__ import annotations

import copy
import http.client
import json
import re
import select
import socket
import threading
import time
from contextlib import closing, contextmanager
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import event, func
from sqlalchemy import select as sql_select

from aipep_core.strict_json import strict_json
from server.guarded_server import ConnectionLimits
from server.limits import ClientLimits
from server.record_limits import MAX_NAME_CHARACTERS, MAX_SAMPLES_PER_LIST, MAX_SAMPLES_PER_RECORD
from server.schema import results
from server.tokens import create_token
from tests.server import conftest as server_fixtures
from tests.server.requests_helpers import TIMEOUT, get_json, post_record
from tests.server.sample_history import History, history_records, record_text
from tests.server.server_thread import ServerThread

# The server tests' fixtures: a fresh database of each kind, the session's PostgreSQL, a running server.
postgres = server_fixtures.postgres
database_url = server_fixtures.database_url
server = server_fixtures.server

SMALL = History(commits=4, rounds=6, iterations=5)
# A normal request may wait this long while the server is under attack; a stalled server never answers.
NORMAL_REQUEST_DEADLINE = 10


def stored_results(server: ServerThread) -> int:
    with server.engine.connect() as connection:
        return connection.execute(sql_select(func.count()).select_from(results)).scalar()


def a_record() -> dict:
    return copy.deepcopy(history_records(SMALL)[0])


def assert_refused(answer: requests.Response, status: int, reason: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["error"].startswith(reason), answer.json()["error"]


# Issue 19 item 3: inputs that made the server answer 500.

NAME_FIELDS = {
    "model": (lambda record, text: record["meta"].update(model=text), "meta.model"),
    "device": (lambda record, text: record["meta"]["device"].update(identifier=text), "meta.device.identifier"),
    "operator": (lambda record, text: record["data"]["Conv latency"].update(type=text), 'data["Conv latency"].type'),
}


@pytest.mark.parametrize("field", NAME_FIELDS)
def test_a_nul_in_a_name_is_refused_naming_the_field(server, field):
    change, path = NAME_FIELDS[field]
    record = a_record()
    change(record, "mobile\x00net")
    assert_refused(post_record(server, record), 400, f'{path}: expected text without NUL characters, got "mobile')
    assert stored_results(server) == 0


def test_a_nul_in_an_operator_key_is_refused(server):
    record = a_record()
    record["data"]["Conv\x00 latency"] = record["data"].pop("Conv latency")
    assert_refused(post_record(server, record), 400, 'data: key "Conv\\u0000 latency": expected text without NUL')
    assert stored_results(server) == 0


@pytest.mark.parametrize("field", NAME_FIELDS)
def test_a_lone_surrogate_in_a_name_is_refused(server, field):
    change, path = NAME_FIELDS[field]
    record = a_record()
    change(record, "PLACEHOLDER")
    body = record_text(record).replace("PLACEHOLDER", "conv\\ud800")
    assert_refused(post_record(server, body), 400, f"{path}: expected text without lone surrogates, got")
    assert stored_results(server) == 0


def test_a_lone_surrogate_in_an_unknown_field_is_refused_too(server):
    record = a_record()
    record["meta"]["note"] = ["fine", "PLACEHOLDER"]
    body = record_text(record).replace("PLACEHOLDER", "\\udfff")
    assert_refused(post_record(server, body), 400, "meta.note[1]: expected text without lone surrogates")


@pytest.mark.parametrize("rounds", [2**40, 2**70])
def test_rounds_no_column_can_hold_are_refused(server, rounds):
    record = a_record()
    record["data"]["NET latency"]["comparison"]["rounds"] = rounds
    assert_refused(
        post_record(server, record), 400, 'data["NET latency"].comparison.rounds: expected a whole number from 0 to'
    )
    assert stored_results(server) == 0


@pytest.mark.parametrize("depth", [600, 900])
def test_deep_nesting_with_a_nan_in_a_summary_is_refused(server, depth):
    record = a_record()
    record["data"]["NET latency"]["summary"]["mean"] = float("nan")
    record["meta"]["extra"] = "PLACEHOLDER"
    body = json.dumps(record).replace('"PLACEHOLDER"', "[" * depth + "1" + "]" * depth)
    answer = post_record(server, body)
    assert answer.status_code == 400, answer.text
    assert re.match(r"meta\.extra(\[0\])+: expected at most \d+ levels of nesting", answer.json()["error"])
    assert stored_results(server) == 0


def test_strict_json_writes_deeply_nested_documents():
    nested: list = [float("nan")]
    for _ in range(800):
        nested = [nested]
    assert strict_json({"a": nested}) == '{"a": ' + "[" * 801 + "null" + "]" * 801 + "}"


# Issue 19 item 7: idle half-open connections must not starve everyone else.


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


@contextmanager
def half_open_connections(url: str, count: int):
    """`count` connections that each sent half a request header and then nothing."""
    held = []
    try:
        for _ in range(count):
            connection = socket.create_connection(host_port(url), timeout=TIMEOUT)
            connection.sendall(b"GET /api/v1/regressions HTTP/1.1\r\nHost: slow\r\nX-Waiting: ")
            held.append(connection)
        yield held
    finally:
        for connection in held:
            connection.close()


def still_open(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    return not readable


def test_200_idle_half_open_connections_do_not_starve_normal_requests(tmp_path):
    patient = ConnectionLimits(header_seconds=3600)
    with (
        ServerThread(f"sqlite:///{tmp_path / 'results.db'}", connections=patient) as running,
        half_open_connections(running.url, 200) as held,
    ):
        for _ in range(5):
            answer = requests.get(f"{running.url}/api/v1/regressions", timeout=NORMAL_REQUEST_DEADLINE)
            assert answer.status_code == 200
        assert all(still_open(connection) for connection in held)


def test_at_the_connection_limit_the_stalest_idle_connection_makes_room(tmp_path):
    connections = ConnectionLimits(max_connections=20)
    with (
        ServerThread(f"sqlite:///{tmp_path / 'results.db'}", connections=connections) as running,
        half_open_connections(running.url, 60) as held,
    ):
        for _ in range(5):
            answer = requests.get(f"{running.url}/api/v1/regressions", timeout=NORMAL_REQUEST_DEADLINE)
            assert answer.status_code == 200
        assert not still_open(held[0])


def test_a_header_trickled_byte_by_byte_is_cut_off(tmp_path):
    connections = ConnectionLimits(header_seconds=1.0)
    with (
        ServerThread(f"sqlite:///{tmp_path / 'results.db'}", connections=connections) as running,
        closing(socket.create_connection(host_port(running.url), timeout=TIMEOUT)) as connection,
    ):
        header = b"GET / HTTP/1.1\r\n" + b"X-Slow: " + b"a" * 10_000
        deadline = time.monotonic() + 60
        closed = False
        for byte in header:
            if time.monotonic() > deadline:
                break
            readable, _, _ = select.select([connection], [], [], 0.1)
            if readable:
                closed = connection.recv(1024) == b""
                break
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
        assert closed


def client_address_get(url: str, source: str) -> http.client.HTTPResponse:
    host, port = host_port(url)
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT, source_address=(source, 0))
    connection.request("GET", "/api/v1/regressions")
    answer = connection.getresponse()
    answer.body = answer.read()
    connection.close()
    return answer


def test_a_client_over_its_request_rate_gets_429_and_others_are_served(tmp_path):
    limits = ClientLimits(requests_per_minute=5)
    with ServerThread(f"sqlite:///{tmp_path / 'results.db'}", limits=limits) as running:
        statuses = [client_address_get(running.url, "127.0.0.1").status for _ in range(5)]
        assert statuses == [200] * 5
        refused = client_address_get(running.url, "127.0.0.1")
        assert refused.status == 429
        assert int(refused.getheader("Retry-After")) >= 1
        assert json.loads(refused.body)["error"].startswith("more than 5 requests per minute from 127.0.0.1")
        assert client_address_get(running.url, "127.0.0.2").status == 200


# Issue 19 item 8: samples are capped per result and per token, not only bytes.


def test_a_list_over_the_samples_cap_is_refused(server):
    record = a_record()
    record["data"]["NET latency"]["values"] = [0] * (MAX_SAMPLES_PER_LIST + 1)
    assert_refused(
        post_record(server, record),
        413,
        f'data["NET latency"].values: expected at most {MAX_SAMPLES_PER_LIST} samples, got {MAX_SAMPLES_PER_LIST + 1}',
    )
    assert stored_results(server) == 0


def test_a_record_over_the_total_samples_cap_is_refused(tmp_path):
    record = a_record()
    template = record["data"]["Relu latency"]
    lists = MAX_SAMPLES_PER_RECORD // MAX_SAMPLES_PER_LIST + 1
    for index in range(lists):
        record["data"][f"Op{index} latency"] = {**template, "values": [0] * MAX_SAMPLES_PER_LIST}
    with ServerThread(f"sqlite:///{tmp_path / 'results.db'}") as running:
        answer = post_record(running, record)
        assert_refused(answer, 413, f"data: expected at most {MAX_SAMPLES_PER_RECORD} samples in one record, got")
        assert stored_results(running) == 0


def samples_in(record: dict) -> int:
    lists = ("values", "control_values", "round_values", "control_round_values")
    return sum(len(metric.get(name) or ()) for metric in record["data"].values() for name in lists)


def test_a_token_over_its_samples_quota_gets_429_and_retries_cost_nothing(database_url):
    records = history_records(SMALL)
    quota = samples_in(records[0]) * 2 + samples_in(records[0]) // 2
    with ServerThread(database_url, limits=ClientLimits(samples_per_token_hour=quota)) as running:
        assert [post_record(running, record).status_code for record in records[:2]] == [201, 201]
        assert post_record(running, records[0]).status_code == 200
        refused = post_record(running, records[2])
        assert_refused(refused, 429, f"token over its quota of {quota} samples per hour")
        assert int(refused.headers["Retry-After"]) >= 1
        other = create_token(running.engine, "another team")
        assert post_record(running, records[2], token=other).status_code == 201


# Issue 19 item 9: stored fields and listings are bounded.


def test_a_megabyte_model_name_is_refused(server):
    record = a_record()
    record["meta"]["model"] = "m" * 1024 * 1024
    assert_refused(
        post_record(server, record),
        400,
        f"meta.model: expected at most {MAX_NAME_CHARACTERS} characters, got {1024 * 1024}",
    )


def test_names_at_the_limit_in_four_byte_characters_are_stored(server):
    record = a_record()
    for offset, name in enumerate(("model", "identifier", "platform")):
        record["meta"][name] = "".join(chr(0x1F600 + (index * 7 + offset) % 80) for index in range(MAX_NAME_CHARACTERS))
    record["meta"]["device"]["identifier"] = "".join(chr(0x10000 + index * 13) for index in range(MAX_NAME_CHARACTERS))
    assert post_record(server, record).status_code == 201
    assert get_json(server, f"/api/v1/results/{record['id']}").json() == record


def next_link(answer: requests.Response) -> str | None:
    link = answer.headers.get("Link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match.group(1)


def test_a_listing_is_cut_at_its_byte_budget_and_pages_on(database_url):
    records = history_records(replace(SMALL, commits=9))
    budget = 3 * len(record_text(records[0]))
    with ServerThread(database_url, limits=ClientLimits(listing_bytes=budget)) as running:
        for record in records:
            assert post_record(running, record).status_code == 201
        seen = []
        answer = get_json(running, "/api/v1/results", limit="1000", model=SMALL.model)
        while True:
            assert answer.status_code == 200
            page = answer.json()
            assert 1 <= len(page) <= 4
            assert len(answer.content) <= budget + len(record_text(records[0])) + 2
            seen.extend(record["id"] for record in page)
            link = next_link(answer)
            if link is None:
                break
            assert link.startswith("/api/v1/results?")
            answer = requests.get(f"{running.url}{link}", timeout=TIMEOUT)
        assert seen == [record["id"] for record in reversed(records)]
        two = get_json(running, "/api/v1/results", limit="2")
        assert [record["id"] for record in two.json()] == seen[:2]
        rest = requests.get(f"{running.url}{next_link(two)}", timeout=TIMEOUT).json()
        assert [record["id"] for record in rest][:2] == seen[2:4]
        assert get_json(running, "/api/v1/results", after="ffff").json() == {
            "error": "after: expected the id of a stored result, got 'ffff'"
        }


def test_the_open_regressions_are_computed_once_for_many_concurrent_readers(database_url):
    limits = ClientLimits(regressions_cache_seconds=3600)
    history = History(commits=4, rounds=8, iterations=6, slow_commit=3)
    with ServerThread(database_url, limits=limits) as running:
        records = history_records(history)
        for record in records[:-1]:
            assert post_record(running, record).status_code == 201
        queries = []

        def count_ranking(_connection, _cursor, statement, *_args) -> None:
            if "row_number" in statement.lower():
                queries.append(statement)

        event.listen(running.engine, "before_cursor_execute", count_ranking)
        answers = []
        start = threading.Barrier(40)

        def read() -> None:
            start.wait(timeout=TIMEOUT)
            answers.append(get_json(running, "/api/v1/regressions"))

        threads = [threading.Thread(target=read) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TIMEOUT)
        assert [answer.status_code for answer in answers] == [200] * 40
        assert len({answer.content for answer in answers}) == 1
        assert len(queries) == 1
        assert post_record(running, records[-1]).status_code == 201
        fresh = get_json(running, "/api/v1/regressions").json()
        assert {row["result_id"] for row in fresh} == {records[-1]["id"]}
        assert len(queries) == 2


# Issue 19 item 13 (server side): an id is one record whatever its letter case.


def test_an_uppercase_copy_of_a_stored_id_is_the_same_record(server):
    record = a_record()
    assert post_record(server, record).status_code == 201
    shouted = copy.deepcopy(record)
    shouted["id"] = record["id"].upper()
    assert post_record(server, shouted).json() == {"id": record["id"], "created": False}
    assert stored_results(server) == 1
    assert get_json(server, f"/api/v1/results/{record['id'].upper()}").json() == record


def test_an_uppercase_id_is_stored_in_lowercase(server):
    record = a_record()
    record["id"] = record["id"].upper()
    assert post_record(server, record).json() == {"id": record["id"].lower(), "created": True}
    assert get_json(server, f"/api/v1/results/{record['id'].lower()}").json()["id"] == record["id"].lower()


# Issue 10 item 10: /api/v1/series fills missing filters the way the dashboard does.


def test_the_series_fills_missing_filters_from_the_newest_matching_result(server):
    board = history_records(SMALL)
    other = history_records(replace(SMALL, model="resnet", identifier="gpu_fp16", device="phone", seed=5))
    for record in [*board, *other]:
        assert post_record(server, record).status_code == 201
    newest = get_json(server, "/api/v1/series")
    assert newest.status_code == 200
    series = newest.json()
    assert {name: series[name] for name in ("model", "identifier", "platform", "device", "key")} == {
        "model": "resnet",
        "identifier": "gpu_fp16",
        "platform": "host",
        "device": "phone",
        "key": "NET latency",
    }
    assert [point["result_id"] for point in series["points"]] == [record["id"] for record in other]
    chosen = get_json(server, "/api/v1/series", model="mobilenet", key="Conv latency").json()
    assert (chosen["identifier"], chosen["device"], chosen["key"]) == ("cpu_fp32", "board-1", "Conv latency")
    assert [point["result_id"] for point in chosen["points"]] == [record["id"] for record in board]
    nothing = get_json(server, "/api/v1/series", model="mobilenet", device="phone")
    assert nothing.status_code == 404
    assert nothing.json()["error"] == (
        "no stored result matches model='mobilenet', device='phone'; filters left out are taken from the newest "
        "matching result, and key defaults to 'NET latency'"
    )
