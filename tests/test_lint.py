"""The code stays ruff clean: the check runs with the tests, so CI refuses what it flags."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff") or pytest.fail("ruff is not installed (it comes with the test extra)")
    done = subprocess.run([ruff, "check", "--no-cache", str(REPO)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
