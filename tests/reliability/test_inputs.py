"""Hostile inputs: servers that send too much, a SIGTERM mid-download, and specs written to break the loader."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.downloads import download
from harness.errors import UserError
from harness.model_cache import ModelCache
from harness.spec import ModelFile

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20
TEN_GB = 10 * 1000**3
SERVER_DEADLINE_S = 30.0


class FloodServer:
    """A loopback HTTP server that answers every GET with up to `body_bytes` zeros, `pace_s` apart per 64 KiB.

    `announce` is the Content-Length it claims (None: no Content-Length, the body
    ends when the connection closes). It stops sending at `body_bytes` or after
    SERVER_DEADLINE_S, so a client that never stops reading cannot hang a test.
    """

    def __init__(self, body_bytes: int, announce: int | None, pace_s: float = 0.0) -> None:
        self.body_bytes = body_bytes
        self.announce = announce
        self.pace_s = pace_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/model.onnx"
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FloodServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=SERVER_DEADLINE_S + 5)
        self.listener.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(client,), daemon=True).start()

    def _answer(self, client: socket.socket) -> None:
        deadline = time.monotonic() + SERVER_DEADLINE_S
        with client:
            client.settimeout(5.0)
            request = b""
            while b"\r\n\r\n" not in request:
                data = client.recv(4096)
                if not data:
                    return
                request += data
            length = "" if self.announce is None else f"Content-Length: {self.announce}\r\n"
            client.sendall(f"HTTP/1.1 200 OK\r\n{length}Connection: close\r\n\r\n".encode())
            chunk = bytes(64 * 1024)
            sent = 0
            try:
                while sent < self.body_bytes and time.monotonic() < deadline and not self.stopping.is_set():
                    piece = chunk[: self.body_bytes - sent]
                    client.sendall(piece)
                    sent += len(piece)
                    if self.pace_s:
                        time.sleep(self.pace_s)
            except OSError:
                return


def remote_model(url: str) -> ModelFile:
    return ModelFile(role="model", filename="model.onnx", location=url, md5=None)


def leftovers(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if not path.is_dir()) if directory.exists() else []


# Issue 19 item 11: downloads have a size cap, and SIGTERM removes the partial file.


def test_an_announced_body_above_the_cap_is_refused_before_writing(tmp_path: Path):
    cache = ModelCache(tmp_path / "cache", max_download_bytes=MIB)
    with FloodServer(body_bytes=4 * MIB, announce=TEN_GB) as server, pytest.raises(UserError) as raised:
        cache.resolve(remote_model(server.url), tmp_path, source="bench.json")
    assert str(raised.value) == (
        f"bench.json: model.files.model.location: cannot download {server.url}: "
        "the server announces 9.3 GiB, more than the 1.0 MiB cap (--max_download_mb raises the cap)"
    )
    assert leftovers(tmp_path / "cache") == []


def test_a_body_growing_past_the_cap_is_cut_and_refused(tmp_path: Path):
    cache = ModelCache(tmp_path / "cache", max_download_bytes=MIB)
    cut = r"cannot download .*: the body grew past the 1\.0 MiB cap; cut there"
    with FloodServer(body_bytes=8 * MIB, announce=None) as server, pytest.raises(UserError, match=cut):
        cache.resolve(remote_model(server.url), tmp_path)
    assert leftovers(tmp_path / "cache") == []


def test_a_body_within_the_cap_still_downloads(tmp_path: Path):
    with FloodServer(body_bytes=MIB, announce=None) as server:
        digest = download(server.url, tmp_path / "model.onnx", max_bytes=MIB)
    assert digest == hashlib.md5(bytes(MIB)).hexdigest()


def test_the_default_cap_refuses_a_10_gb_announcement(tmp_path: Path):
    refused = "the server announces 9.3 GiB, more than the 8.0 GiB cap"
    with FloodServer(body_bytes=MIB, announce=TEN_GB) as server, pytest.raises(UserError, match=refused):
        ModelCache(tmp_path / "cache").resolve(remote_model(server.url), tmp_path)


def test_the_cap_is_a_command_line_flag(tmp_path: Path, capsys, monkeypatch):
    from harness.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    with FloodServer(body_bytes=2 * MIB, announce=2 * MIB) as server:
        spec = write_spec(tmp_path, location=server.url)
        status = main(["-b", str(spec), "--model_cache", str(tmp_path / "cache"), "--no_db", "--max_download_mb", "1"])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("the server announces 2.0 MiB, more than the 1.0 MiB cap (--max_download_mb raises the cap)")
    assert len(err.splitlines()) == 1


def write_spec(directory: Path, location: str) -> Path:
    spec = directory / "bench.json"
    files = {"model": {"filename": "model.onnx", "location": location}}
    model = {"name": "remote", "format": "generic", "files": files}
    test = {"identifier": "t", "metric": "delay", "iter": 1, "commands": ["{program} {files.model}"]}
    spec.write_text(json.dumps({"model": model, "tests": [test]}))
    return spec


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_download_removes_the_partial_file(tmp_path: Path, stop_signal: signal.Signals):
    """The harness, as a real process, is stopped while a slow model streams into its cache."""
    cache = tmp_path / "cache"
    environment = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    with FloodServer(body_bytes=64 * MIB, announce=64 * MIB, pace_s=0.01) as server:
        spec = write_spec(tmp_path, location=server.url)
        harness = subprocess.Popen(
            [sys.executable, "-m", "harness", "-b", str(spec), "--model_cache", str(cache), "--no_db"],
            cwd=REPO,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + SERVER_DEADLINE_S
            while not any(path.stat().st_size > 0 for path in leftovers(cache)):
                assert harness.poll() is None, harness.stderr.read().decode()
                assert time.monotonic() < deadline, "the download never started"
                time.sleep(0.05)
            harness.send_signal(stop_signal)
            harness.wait(timeout=SERVER_DEADLINE_S)
        finally:
            if harness.poll() is None:
                harness.kill()
                harness.wait()
            harness.stderr.close()
    assert leftovers(cache) == []
    if stop_signal == signal.SIGTERM:
        assert harness.returncode == -signal.SIGTERM
