"""Reading back what a report wrote: the figures inside an HTML report."""

from __future__ import annotations

import json
import re
from pathlib import Path

_FIGURES = re.compile(r'<script type="application/json" id="figures">(.*?)</script>', re.S)


def html_figures(path: Path) -> list[dict]:
    (found,) = _FIGURES.findall(path.read_text(encoding="utf-8"))
    return json.loads(found)
