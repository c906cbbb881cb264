"""The dashboard's pages as HTML over HTTP, on both databases: what they list, in which order, from where."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html import unescape

import requests

from server.plotly_asset import plotly_js_path
from tests.server.requests_helpers import TIMEOUT, post_record
from tests.server.sample_history import History, history_records

HISTORY = History(commits=7, rounds=8, iterations=6, slow_commit=4)


def page(server, path: str, **params) -> requests.Response:
    answer = requests.get(f"{server.url}{path}", params=params, timeout=TIMEOUT)
    assert answer.headers["Content-Type"].startswith("text/html"), answer.headers["Content-Type"]
    return answer


def embedded_series(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="series-data">(.*?)</script>', html, re.S)
    assert match, "the page embeds no series"
    return json.loads(match.group(1))


def selected(html: str, name: str) -> str | None:
    select = re.search(rf'<select name="{name}">(.*?)</select>', html, re.S).group(1)
    match = re.search(r'<option value="([^"]*)" selected>', select)
    return unescape(match.group(1)) if match else None


def options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}">(.*?)</select>', html, re.S).group(1)
    return [unescape(value) for value in re.findall(r'<option value="([^"]*)"', select)]


def seed(server) -> tuple[list[dict], list[dict]]:
    board = history_records(HISTORY)
    other = history_records(replace(HISTORY, model="resnet", identifier="gpu_fp16", device="phone", seed=5))
    for record in [*board, *other]:
        assert post_record(server, record).status_code == 201
    return board, other


def test_an_empty_server_says_how_to_send_results(server):
    answer = page(server, "/")
    assert answer.status_code == 200
    assert "No results match these filters yet" in answer.text


def test_the_index_completes_filters_from_the_newest_matching_result(server):
    board, other = seed(server)
    newest = page(server, "/").text
    assert (selected(newest, "model"), selected(newest, "device"), selected(newest, "key")) == (
        "resnet",
        "phone",
        "NET latency",
    )
    chosen = page(server, "/", model="mobilenet", key="Conv latency").text
    assert (selected(chosen, "identifier"), selected(chosen, "platform"), selected(chosen, "device")) == (
        "cpu_fp32",
        "host",
        "board-1",
    )
    assert options(chosen, "model") == ["mobilenet", "resnet"]
    assert options(chosen, "identifier") == ["cpu_fp32"]
    assert options(chosen, "key") == ["Conv latency", "MatMul latency", "NET latency", "Relu latency"]
    series = embedded_series(chosen)
    assert series["key"] == "Conv latency"
    assert [point["result_id"] for point in series["points"]] == [record["id"] for record in board]
    assert all(point["url"] == f"/results/{point['result_id']}" for point in series["points"])
    regression = board[HISTORY.slow_commit - 1]
    assert f'href="/results/{regression["id"]}"' in chosen
    nothing = page(server, "/", model="mobilenet", device="phone").text
    assert "No results match these filters yet" in nothing


def test_the_comparison_page_puts_regressions_first(server):
    board, _ = seed(server)
    regression = board[HISTORY.slow_commit - 1]
    html = page(server, f"/results/{regression['id']}").text
    rows = re.findall(r'<tr class="verdict-(\w+)">\s*<td><a [^>]*>([^<]+)</a>', html)
    assert rows[:2] == [("regression", "Conv latency"), ("regression", "NET latency")]
    assert len(rows) == len(regression["data"])
    assert regression["meta"]["commit"][:10] in html
    assert page(server, "/results/feed").status_code == 404


def test_the_open_regressions_page_links_each_to_its_comparison(server):
    board, _ = seed(server)
    assert "No open regressions." in page(server, "/regressions").text
    late = history_records(replace(HISTORY, device="board-9", slow_commit=HISTORY.commits - 1, seed=11))
    for record in late:
        assert post_record(server, record).status_code == 201
    html = page(server, "/regressions").text
    links = re.findall(r'<a href="(/results/[0-9a-f]+)">comparison</a>', html)
    assert links == [f"/results/{late[-1]['id']}"] * 2


def test_plotly_comes_from_the_installed_package_and_no_page_loads_anything_from_elsewhere(server):
    seed(server)
    script = requests.get(f"{server.url}/assets/plotly.min.js", timeout=TIMEOUT)
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.content == plotly_js_path().read_bytes()
    for path in ("/", "/regressions"):
        html = page(server, path).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources
        assert all(source.startswith("/") or source.startswith("data:") for source in sources), sources
