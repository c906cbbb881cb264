"""The plotly.js text the HTML report inlines: the installed `plotly` package's own minified file.

A report must open offline and be attached to a review as one file, so the library goes
inside it rather than behind a CDN link; taking the package's copy keeps it at the
version pip installed (the results server serves the same file).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path


class PlotlyMissing(RuntimeError):
    """The HTML report was asked for without the plotly package installed."""


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The library's text, read once per process; safe to place inside a <script> element."""
    try:
        path = Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise PlotlyMissing("an HTML report needs plotly: pip install 'aipep[report]'")
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")
