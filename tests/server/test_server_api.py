"""The results API on a real server over HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import copy
import json
import socket
import threading
from dataclasses import replace

import pytest
import requests
from sqlalchemy import func, select

from server.schema import metrics, results, samples
from server.tokens import create_token, revoke_token
from tests.server.requests_helpers import TIMEOUT, get_json, post_record
from tests.server.sample_history import History, history_records, record_text
from tests.server.server_thread import ServerThread

SMALL = History(commits=4, rounds=6, iterations=5)


def count(server: ServerThread, table) -> int:
    with server.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar()


def expected_samples(record: dict) -> int:
    lists = ("values", "control_values", "round_values", "control_round_values")
    return sum(len(metric.get(name) or ()) for metric in record["data"].values() for name in lists)


def test_a_record_is_stored_once_and_a_retry_changes_nothing(server):
    record = history_records(SMALL)[0]
    first = post_record(server, record)
    assert (first.status_code, first.json()) == (201, {"id": record["id"], "created": True})
    altered = copy.deepcopy(record)
    altered["meta"]["model"] = "renamed"
    retry = post_record(server, altered)
    assert (retry.status_code, retry.json()) == (200, {"id": record["id"], "created": False})
    stored = get_json(server, "/api/v1/results").json()
    assert stored == [record]
    assert count(server, results) == 1
    assert count(server, metrics) == len(record["data"])
    assert count(server, samples) == expected_samples(record)


def test_copies_posted_at_once_store_one(server):
    record = history_records(SMALL)[0]
    body = record_text(record)
    statuses = []
    start = threading.Barrier(6)

    def post() -> None:
        start.wait(timeout=TIMEOUT)
        statuses.append(post_record(server, body).status_code)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(statuses) == [200] * 5 + [201]
    assert count(server, results) == 1
    assert count(server, samples) == expected_samples(record)


def test_malformed_json_is_refused_with_the_parser_reason(server):
    answer = post_record(server, b'{"id": "ab", "status": ')
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("malformed JSON: Expecting value: line 1")
    assert count(server, results) == 0


def _mutated(change) -> dict:
    record = copy.deepcopy(history_records(SMALL)[0])
    change(record)
    return record


INVALID = [
    (
        lambda r: r["data"]["NET latency"].update(values="fast"),
        'data["NET latency"].values: expected a list of numbers',
    ),
    (
        lambda r: r["data"]["Conv latency"]["values"].append("x"),
        'data["Conv latency"].values: expected a list of numbers',
    ),
    (lambda r: r["meta"].pop("model"), "meta.model: expected a non-empty string, got null"),
    (lambda r: r.update(id="not hex!"), 'id: expected a hex string of 1 to 128 characters, got "not hex!"'),
    (lambda r: r.update(status="ok"), 'status: expected "success" or "failure", got "ok"'),
    (
        lambda r: r["data"]["NET latency"]["comparison"].update(verdict="worse"),
        'data["NET latency"].comparison.verdict: expected one of regression',
    ),
    (lambda r: r["meta"].update(commit_time="yesterday"), "meta.commit_time: expected a number or null"),
    (lambda r: r.update(data=[]), "data: expected an object of metrics by key, got a list"),
]


@pytest.mark.parametrize(("change", "reason"), INVALID, ids=[reason.split(":")[0] for _, reason in INVALID])
def test_an_invalid_record_is_refused_naming_the_field(server, change, reason):
    answer = post_record(server, _mutated(change))
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(reason)
    assert count(server, results) == 0


def test_a_json_array_is_not_a_record(server):
    answer = post_record(server, b"[1, 2]")
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "record: expected a JSON object (one result record), got a list"},
    )


def test_non_finite_numbers_outside_samples_are_stored_as_null(server):
    record = history_records(SMALL)[0]
    text = record_text(record).replace('"p_value": ', '"p_value": NaN, "was_p": ', 1)
    record["data"]["NET latency"]["comparison"]["ci_high_pct"] = float("inf")
    body = json.dumps(json.loads(text) | {"data": record["data"]})
    assert post_record(server, body).status_code == 201
    stored = get_json(server, f"/api/v1/results/{record['id']}").json()
    assert stored["data"]["NET latency"]["comparison"]["ci_high_pct"] is None
    point = get_json(
        server,
        "/api/v1/series",
        model=SMALL.model,
        identifier=SMALL.identifier,
        platform=SMALL.platform,
        key="NET latency",
    ).json()["points"][0]
    assert point["ci_high_pct"] is None


def test_a_missing_unknown_or_revoked_token_stores_nothing(server):
    record = history_records(SMALL)[0]
    revoked = create_token(server.engine, "old laptop")
    revoke_token(server.engine, "old laptop")
    for token, reason in (
        ("", "expected an 'Authorization: Bearer <token>' header"),
        ("aipep_made-up", "unknown or revoked token"),
        (revoked, "unknown or revoked token"),
    ):
        answer = post_record(server, record, token=token)
        assert (answer.status_code, answer.json()) == (401, {"error": reason})
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    basic = requests.post(
        f"{server.url}/api/v1/results",
        data=record_text(record),
        headers={"Authorization": f"Basic {server.token}"},
        timeout=TIMEOUT,
    )
    assert basic.status_code == 401
    assert count(server, results) == 0


@pytest.fixture
def small_limit_server(database_url):
    with ServerThread(database_url, max_body_bytes=64 * 1024) as running:
        yield running


def test_a_body_at_the_limit_is_read_and_one_byte_more_is_refused(small_limit_server):
    server = small_limit_server
    text = record_text(history_records(replace(SMALL, rounds=4, iterations=4))[0])
    at_limit = text + " " * (64 * 1024 - len(text))
    assert post_record(server, at_limit).status_code == 201
    over = post_record(
        server,
        text.replace(server_id := json.loads(text)["id"], "f" * len(server_id)) + " " * (64 * 1024 - len(text) + 1),
    )
    assert over.status_code == 413
    assert over.json() == {"error": "request body over the limit of 65536 bytes (aipep-server --max_body_mb)"}
    assert count(server, results) == 1


def test_an_oversized_body_is_refused_from_its_header_before_it_is_sent(small_limit_server):
    host, port = small_limit_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as connection:
        connection.sendall(
            b"POST /api/v1/results HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {small_limit_server.token}\r\nContent-Length: {10**12}\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["error"].startswith("request body over the limit")


def test_a_chunked_body_is_cut_off_at_the_limit(small_limit_server):
    def chunks():
        yield b'{"id": "ab", "padding": "'
        for _ in range(100):
            yield b"x" * 1024

    answer = requests.post(
        f"{small_limit_server.url}/api/v1/results",
        data=chunks(),
        headers={"Authorization": f"Bearer {small_limit_server.token}"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 413
    assert count(small_limit_server, results) == 0


def _post_all(server: ServerThread, records: list[dict]) -> None:
    for record in records:
        assert post_record(server, record).status_code == 201


def test_queries_filter_and_list_newest_first(server):
    board = history_records(SMALL)
    other_device = history_records(replace(SMALL, device="board-2", seed=2))
    other_model = history_records(replace(SMALL, model="resnet", seed=3))
    _post_all(server, [*board, *other_device, *other_model])
    remeasured = copy.deepcopy(board[-1])
    remeasured["id"] = "ab" * 16
    remeasured["meta"]["run_type"] = "verify"
    _post_all(server, [remeasured])

    def ids(**params) -> list[str]:
        answer = get_json(server, "/api/v1/results", **params)
        assert answer.status_code == 200
        return [record["id"] for record in answer.json()]

    newest_first = [record["id"] for record in reversed(board)]
    assert ids(model=SMALL.model, device="board-1") == [remeasured["id"], *newest_first]
    assert ids(model=SMALL.model, device="board-1", limit=2) == [remeasured["id"], newest_first[0]]
    assert ids(model="resnet") == [record["id"] for record in reversed(other_model)]
    assert ids(commit=board[0]["meta"]["commit"]) == [other_device[0]["id"], board[0]["id"]]
    assert ids(model=SMALL.model, identifier=SMALL.identifier, platform="host", device="board-2") == [
        record["id"] for record in reversed(other_device)
    ]
    assert ids(platform="android") == []
    assert len(ids()) == 3 * len(board) + 1
    assert get_json(server, "/api/v1/results", limit="0").json() == {
        "error": "limit: expected a whole number from 1 to 1000, got '0'"
    }


def test_a_result_without_commit_time_lists_as_the_oldest(server):
    timed, untimed = history_records(SMALL)[:2]
    untimed["meta"]["commit_time"] = None
    _post_all(server, [untimed, timed])
    assert [record["id"] for record in get_json(server, "/api/v1/results").json()] == [timed["id"], untimed["id"]]


def test_the_series_follows_commit_order_with_the_figures_of_each_record(server):
    records = history_records(History(commits=7, rounds=8, iterations=6, slow_commit=4))
    _post_all(server, list(reversed(records)))
    answer = get_json(
        server,
        "/api/v1/series",
        model="mobilenet",
        identifier="cpu_fp32",
        platform="host",
        device="board-1",
        key="Conv latency",
    )
    assert answer.status_code == 200
    series = answer.json()
    assert [point["result_id"] for point in series["points"]] == [record["id"] for record in records]
    for point, record in zip(series["points"], records, strict=True):
        metric = record["data"]["Conv latency"]
        assert point["commit"] == record["meta"]["commit"]
        assert point["control_commit"] == record["meta"]["control_commit"]
        assert (point["p10"], point["p50"], point["p90"]) == tuple(metric["summary"][p] for p in ("p10", "p50", "p90"))
        assert point["control_p50"] == metric["control_summary"]["p50"]
        for name in ("estimate_pct", "ci_low_pct", "ci_high_pct", "p_value", "q_value", "rounds", "verdict"):
            assert point[name] == metric["comparison"][name]
    assert [point["verdict"] for point in series["points"]][3] == "regression"
    without_key = get_json(server, "/api/v1/series", model="mobilenet", identifier="cpu_fp32", platform="host")
    assert without_key.status_code == 200
    assert (without_key.json()["key"], without_key.json()["device"]) == ("NET latency", "board-1")


def test_a_regression_is_open_while_the_newest_verdict_says_so(server):
    fixed = History(commits=6, rounds=8, iterations=6, slow_commit=3, device="board-1")
    still_slow = History(commits=6, rounds=8, iterations=6, slow_commit=5, device="board-2", seed=7)
    _post_all(server, [*history_records(fixed), *history_records(still_slow)])
    single_run = copy.deepcopy(history_records(still_slow)[-1])
    single_run["id"] = "cd" * 16
    single_run["meta"]["commit_time"] += 60
    for metric in single_run["data"].values():
        metric["comparison"] = None
    _post_all(server, [single_run])
    open_now = get_json(server, "/api/v1/regressions").json()
    newest_slow = history_records(still_slow)[-1]
    assert {(row["device"], row["key"], row["result_id"]) for row in open_now} == {
        ("board-2", "Conv latency", newest_slow["id"]),
        ("board-2", "NET latency", newest_slow["id"]),
    }
    assert open_now[0]["key"] == "Conv latency"
    assert open_now[0]["estimate_pct"] == newest_slow["data"]["Conv latency"]["comparison"]["estimate_pct"]

    verify = copy.deepcopy(newest_slow)
    verify["id"] = "ef" * 16
    verify["meta"]["run_type"] = "verify"
    verify["data"]["NET latency"]["comparison"]["verdict"] = "inconclusive"
    _post_all(server, [verify])
    assert [(row["key"], row["result_id"]) for row in get_json(server, "/api/v1/regressions").json()] == [
        ("Conv latency", verify["id"])
    ]


def test_one_record_by_id_and_json_for_unknown_paths(server):
    record = history_records(SMALL)[0]
    _post_all(server, [record])
    assert get_json(server, f"/api/v1/results/{record['id']}").json() == record
    assert get_json(server, "/api/v1/results/ffff").json() == {"error": "no result with id ffff"}
    unknown = get_json(server, "/api/v1/nothing")
    assert unknown.status_code == 404
    assert "error" in unknown.json()
    wrong_method = requests.delete(f"{server.url}/api/v1/results", timeout=TIMEOUT)
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json()
    assert set(wrong_method.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_a_record_the_harness_wrote_is_stored_and_read_back_unchanged(server, harness_record):
    assert post_record(server, harness_record).status_code == 201
    assert get_json(server, f"/api/v1/results/{harness_record['id']}").json() == harness_record
    assert count(server, samples) == expected_samples(harness_record)
    points = get_json(
        server,
        "/api/v1/series",
        model="microkernel",
        identifier="microkernel_default",
        platform="host",
        key="Conv latency",
    ).json()["points"]
    assert [(point["commit"], point["control_commit"]) for point in points] == [("c0ffee01", "c0ffee00")]
    assert points[0]["verdict"] == harness_record["data"]["Conv latency"]["comparison"]["verdict"]


def test_metric_keys_with_tabs_backslashes_and_newlines_keep_their_samples(server):
    record = history_records(SMALL)[0]
    odd_key = 'Conv\t"fused"\\1\nlatency'
    record["data"][odd_key] = record["data"].pop("Conv latency")
    assert post_record(server, record).status_code == 201
    with server.engine.connect() as connection:
        stored = connection.execute(
            select(samples.c.value)
            .where(samples.c.key == odd_key, samples.c.arm == "treatment", samples.c.series == "iteration")
            .order_by(samples.c.position)
        ).scalars()
        assert list(stored) == record["data"][odd_key]["values"]
    assert get_json(server, f"/api/v1/results/{record['id']}").json()["data"][odd_key] == record["data"][odd_key]


def test_a_below_floor_verdict_is_stored_listed_and_never_an_open_regression(server):
    record = copy.deepcopy(history_records(SMALL)[0])
    comparison = record["data"]["Conv latency"]["comparison"]
    comparison.update(verdict="below_floor", abs_change_us=2.5)
    _post_all(server, [record])
    assert get_json(server, f"/api/v1/results/{record['id']}").json() == record
    points = get_json(
        server,
        "/api/v1/series",
        model=SMALL.model,
        identifier=SMALL.identifier,
        platform=SMALL.platform,
        key="Conv latency",
    ).json()["points"]
    assert [point["verdict"] for point in points] == ["below_floor"]
    assert all(row["key"] != "Conv latency" for row in get_json(server, "/api/v1/regressions").json())
