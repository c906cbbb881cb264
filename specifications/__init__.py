"""Benchmark specs and per-platform build scripts, shipped as package data.

An installed copy finds them here: `specifications_root() / "frameworks" / fw / platform / "build.sh"`.
"""

from pathlib import Path


def specifications_root() -> Path:
    return Path(__file__).resolve().parent
