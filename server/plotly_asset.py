"""Where plotly.js comes from: the installed `plotly` Python package, which ships the minified library.

The dashboard must work on machines without internet, so no CDN; and a copy in this
repository would be a second, unupdated version of a 4 MB file. Serving the package's
own file keeps the library at whatever version pip installed.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def plotly_js_path() -> Path | None:
    """The file, or None when the plotly package (in the `server` extra) is not installed."""
    try:
        candidate = resources.files("plotly").joinpath("package_data", "plotly.min.js")
    except ModuleNotFoundError:
        return None
    path = Path(str(candidate))
    return path if path.is_file() else None
