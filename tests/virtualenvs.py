"""Virtualenvs made inside a test that can import what the test run itself imports.

`python -m venv --system-site-packages` inherits the *base* interpreter's packages, so when
the tests themselves run in a virtualenv (as the README and CI run them), a plain inner
environment would lack onnxruntime and the rest. A `.pth` file in the inner environment adds
the running interpreter's site directories, with their own `.pth` files (an editable install
included), so the inner one sees exactly the packages of the outer one, wherever that lives.
"""

from __future__ import annotations

import site
import subprocess
import sys
import sysconfig
from pathlib import Path

VENV_TIMEOUT_S = 120


def make_virtualenv(root: Path) -> Path:
    """Create a symlinked virtualenv at root the ordinary way; return its `bin/python` (a symlink)."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root)],
        check=True,
        timeout=VENV_TIMEOUT_S,
    )
    inner_site = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    outer_sites = [path for path in site.getsitepackages() if Path(path).is_dir()]
    lines = [f"import site; site.addsitedir({path!r})" for path in outer_sites]
    (inner_site / "aipep_outer_environment.pth").write_text("\n".join(lines) + "\n")
    return root / "bin" / "python"
