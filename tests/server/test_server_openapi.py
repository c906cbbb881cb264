"""The OpenAPI document describes what the server really does: every route, and real answers fit its schemas."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace

import pytest
import requests
from jsonschema import Draft202012Validator

from server.app import create_app
from server.limits import ClientLimits
from server.record_limits import MAX_SAMPLES_PER_LIST
from server.server_state import ServerState
from tests.server.requests_helpers import TIMEOUT, get_json, post_record
from tests.server.sample_history import History, history_records, record_text
from tests.server.server_thread import ServerThread

HISTORY = History(commits=5, rounds=6, iterations=5, slow_commit=4)


@pytest.fixture
def document(server) -> dict:
    answer = get_json(server, "/api/v1/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    return answer.json()


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def validator(document: dict, *parts: str) -> Draft202012Validator:
    """A validator for the schema at `parts`, with every #/components reference resolving within the document."""
    schema = {**document, "$ref": _pointer(*parts)}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def check_answer(document: dict, path: str, method: str, answer: requests.Response) -> None:
    responses = document["paths"][path][method]["responses"]
    status = str(answer.status_code)
    assert status in responses, f"{method.upper()} {path} answered {status}, which the document does not list"
    described = responses[status]
    if "$ref" in described:
        reference = described["$ref"].removeprefix("#/").split("/")
        parts = [*reference, "content", "application/json", "schema"]
    else:
        parts = ["paths", path, method, "responses", status, "content", "application/json", "schema"]
    assert answer.headers["Content-Type"].startswith("application/json")
    validator(document, *parts).validate(answer.json())


def test_every_api_route_is_documented_and_nothing_else(document):
    app = create_app(ServerState(engine=None, max_body_bytes=1))
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, methods in document["paths"].items() for method in methods}
    assert document["servers"] == [{"url": "/api/v1"}]
    assert routes == documented


def test_real_answers_match_the_documented_schemas(server, document):
    records = history_records(HISTORY)
    for record in records:
        validator(document, "components", "schemas", "ResultRecord").validate(record)
        check_answer(document, "/results", "post", post_record(server, record))
    check_answer(document, "/results", "post", post_record(server, records[0]))
    check_answer(document, "/results", "post", post_record(server, b"{"))
    invalid = copy.deepcopy(records[0])
    invalid["data"]["NET latency"]["values"] = None
    check_answer(document, "/results", "post", post_record(server, invalid))
    check_answer(document, "/results", "post", post_record(server, records[0], token="aipep_wrong"))

    check_answer(document, "/results", "get", get_json(server, "/api/v1/results"))
    check_answer(document, "/results", "get", get_json(server, "/api/v1/results", limit="many"))
    check_answer(document, "/results/{result_id}", "get", get_json(server, f"/api/v1/results/{records[0]['id']}"))
    check_answer(document, "/results/{result_id}", "get", get_json(server, "/api/v1/results/0"))
    series = {"model": HISTORY.model, "identifier": HISTORY.identifier, "platform": HISTORY.platform}
    for device in (HISTORY.device, None):
        answer = get_json(server, "/api/v1/series", **series, key="Conv latency", device=device)
        assert len(answer.json()["points"]) == len(records)
        check_answer(document, "/series", "get", answer)
    check_answer(document, "/series", "get", get_json(server, "/api/v1/series", **series))
    regressions = get_json(server, "/api/v1/regressions")
    assert regressions.json()
    check_answer(document, "/regressions", "get", regressions)
    check_answer(document, "/openapi.json", "get", get_json(server, "/api/v1/openapi.json"))


def test_the_refusal_of_an_oversized_body_matches_too(database_url):
    with ServerThread(database_url, max_body_bytes=1024) as server:
        record = history_records(replace(HISTORY, rounds=4, iterations=4))[0]
        answer = requests.post(
            f"{server.url}/api/v1/results",
            data=record_text(record),
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 413
        check_answer(json.loads(get_json(server, "/api/v1/openapi.json").text), "/results", "post", answer)


def test_the_refusals_of_hostile_clients_match_too(database_url):
    with ServerThread(database_url, limits=ClientLimits(requests_per_minute=6)) as server:
        document = get_json(server, "/api/v1/openapi.json").json()
        record = history_records(replace(HISTORY, rounds=4, iterations=4))[0]
        record["data"]["NET latency"]["values"] = [0] * (MAX_SAMPLES_PER_LIST + 1)
        check_answer(document, "/results", "post", post_record(server, record))
        check_answer(document, "/series", "get", get_json(server, "/api/v1/series", model="nothing"))
        answers = [get_json(server, "/api/v1/regressions") for _ in range(4)]
        assert answers[-1].status_code == 429
        check_answer(document, "/regressions", "get", answers[-1])
