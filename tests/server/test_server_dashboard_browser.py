"""The dashboard in a real browser: Debian's Chromium driven by Playwright, as a user would click through it."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from tests import chromium_browser
from tests.server.requests_helpers import post_record
from tests.server.sample_history import History, history_records
from tests.server.server_thread import ServerThread

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
WAIT_MS = 30_000
browser = chromium_browser.browser

HISTORY = History(commits=12, rounds=10, iterations=8, slow_commit=6)


def test_a_user_follows_a_regression_from_the_chart_to_its_comparison(tmp_path, browser):
    board = history_records(HISTORY)
    still_slow = history_records(replace(HISTORY, device="board-2", slow_commit=HISTORY.commits - 1, seed=3))
    with ServerThread(f"sqlite:///{tmp_path / 'results.db'}") as server:
        for record in [*board, *still_slow]:
            assert post_record(server, record).status_code == 201
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

        page.goto(f"{server.url}/")
        with page.expect_navigation():
            page.select_option("select[name=device]", "board-1")
        assert "device=board-1" in page.url
        line = page.wait_for_selector("#chart .scatterlayer .tracep50 path.js-line", timeout=WAIT_MS)
        assert line.get_attribute("d").startswith("M")
        assert page.locator("#chart .scatterlayer .tracep50 path.point").count() == len(board)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        marker = page.locator("#chart .traceregressions path.point")
        assert marker.count() == 1
        box = marker.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        with page.expect_navigation():
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        regression = board[HISTORY.slow_commit - 1]
        assert page.url == f"{server.url}/results/{regression['id']}"
        first = page.locator("table#comparison tbody tr").first
        assert first.locator("td").nth(0).inner_text() == "Conv latency"
        assert first.locator("td.verdict").inner_text() == "regression"
        assert page.locator("table#comparison tbody tr").count() == len(regression["data"])
        page.screenshot(path=str(ARTIFACTS / "comparison.png"), full_page=True)

        page.click("text=Open regressions")
        page.wait_for_selector("table#regressions")
        with page.expect_navigation():
            page.locator("table#regressions a", has_text="comparison").first.click()
        assert re.fullmatch(rf"{re.escape(server.url)}/results/{still_slow[-1]['id']}", page.url)
        assert page.locator("table#comparison tr.verdict-regression").count() == 2
        assert errors == []


MARKUP_DEVICE = '<a href="http://example.invalid/" target="_blank">open</a> <span style="color:red">red</span>'


def test_markup_in_stored_names_shows_as_text_in_the_chart(tmp_path, browser):
    records = history_records(replace(HISTORY, commits=4, device=MARKUP_DEVICE))
    with ServerThread(f"sqlite:///{tmp_path / 'results.db'}") as server:
        for record in records:
            assert post_record(server, record).status_code == 201
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{server.url}/")
        point = page.wait_for_selector("#chart .scatterlayer .tracep50 path.point", timeout=WAIT_MS)
        box = point.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        hover = page.wait_for_selector("#chart .hoverlayer .hovertext", timeout=WAIT_MS)
        assert MARKUP_DEVICE in hover.text_content()
        assert page.locator("#chart .hoverlayer a").count() == 0
        styled = "#chart .hoverlayer [style*='color:red'], #chart .hoverlayer [style*='color: red']"
        assert page.locator(styled).count() == 0
