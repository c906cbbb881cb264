"""SSH boards for tests: a prepared SSH platform on a loopback sshd, made one way for every test file.

A test module binds the fixtures it wants as its own names (`board = ssh_boards.board`) so pytest
finds them there; `private_lock_dir` is autouse, so the device locks of one test never meet another's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sshd_fixture import SshServer, start_sshd

from platforms import get_platform


@contextmanager
def prepared_board(server: SshServer, remote_dir: Path) -> Iterator:
    platform = get_platform("ssh", **server.options(remote_dir=str(remote_dir)))
    try:
        platform.prepare()
        yield platform
    finally:
        platform.close()


@contextmanager
def board_on_its_own_sshd(directory: Path, launcher: tuple[str, ...] = ()) -> Iterator:
    """A board whose sshd lives only as long as it does, for a board set up differently from the others."""
    server = start_sshd(directory / "sshd", launcher=launcher)
    try:
        with prepared_board(server, directory / "remote") as platform:
            yield platform
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def private_lock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def board(sshd, tmp_path):
    with prepared_board(sshd, tmp_path / "remote") as platform:
        yield platform
