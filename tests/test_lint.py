"""The code stays ruff clean: the check runs with the tests, so CI refuses what it flags.

Ruff is run as `python -m ruff` under the tests' own interpreter, so it is found whether or
not the virtualenv holding it is activated (`v/bin/python -m pytest` puts nothing on PATH).
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    if importlib.util.find_spec("ruff") is None:
        pytest.fail("ruff is not installed (it comes with the test extra)")
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
