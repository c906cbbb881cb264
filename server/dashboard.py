"""The dashboard's pages: charts over commits, one page per comparison, the open regressions.

Pages are rendered on the server from the same queries the API answers, so every
table works without JavaScript; the only script draws the chart and follows a click
on a point to that result's comparison page.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from flask import Blueprint, Response, abort, render_template, request, send_file, url_for

from aipep_core import number_format
from aipep_core.result_record import RunResult
from aipep_core.verdict import NOT_JUDGED, Verdict
from reports.html_report import render_html
from reports.plotly_source import PlotlyMissing
from reports.single_result import result_report
from server.comparison_table import comparison_rows
from server.open_regressions import open_regressions
from server.plotly_asset import plotly_js_path
from server.result_queries import find_document
from server.selection import filter_choices, resolve_selection
from server.series_query import SeriesQuery, series_points
from server.server_state import current_guards, current_state

dashboard = Blueprint("dashboard", __name__)


def short_commit(commit: str | None) -> str:
    return number_format.MISSING if not commit else commit[:10]


# Template filter name -> how it writes a figure; the screen table writes figures the same way.
FILTERS = {
    "percent_change": number_format.percent_change,
    "interval": number_format.percent_interval,
    "measured": number_format.measurement,
    "probability": number_format.probability,
    "short_commit": short_commit,
}
for _name, _filter in FILTERS.items():
    dashboard.add_app_template_filter(_filter, _name)


@dashboard.get("/")
def index() -> str:
    engine = current_state().engine
    selection = resolve_selection(engine, request.args.to_dict())
    points = []
    if selection is not None:
        points = [
            {**point, "url": url_for("dashboard.comparison", result_id=point["result_id"])}
            for point in series_points(engine, SeriesQuery(**asdict(selection)))
        ]
    return render_template(
        "index.html",
        selection=selection,
        choices=filter_choices(engine, selection),
        points=points,
        regressions=[point for point in points if point["verdict"] is Verdict.REGRESSION],
    )


@dashboard.get("/results/<result_id>")
def comparison(result_id: str) -> str:
    engine = current_state().engine
    document = find_document(engine, result_id.lower())
    if document is None:
        abort(404, f"no result with id {result_id}")
    record = RunResult.from_json(json.loads(document))
    rows = comparison_rows(engine, result_id)
    return render_template("comparison.html", record=record, meta=record.meta, rows=rows, not_judged=NOT_JUDGED)


@dashboard.get("/results/<result_id>/report")
def report(result_id: str) -> Response:
    """The same offline HTML report `aipep-report` writes, to open or save from the dashboard."""
    document = find_document(current_state().engine, result_id.lower())
    if document is None:
        abort(404, f"no result with id {result_id}")
    try:
        page = render_html(result_report(RunResult.from_json(json.loads(document))))
    except PlotlyMissing as missing:
        abort(404, str(missing))
    return Response(page, mimetype="text/html")


@dashboard.get("/regressions")
def regressions() -> str:
    engine = current_state().engine
    return render_template("regressions.html", rows=current_guards().regressions.get(lambda: open_regressions(engine)))


@dashboard.get("/assets/plotly.min.js")
def plotly_js() -> Response:
    path = plotly_js_path()
    if path is None:
        abort(404, "plotly is not installed; install the server extra: pip install 'aipep[server]'")
    return send_file(path, mimetype="text/javascript", max_age=24 * 3600)
