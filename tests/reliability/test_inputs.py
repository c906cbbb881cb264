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

from aipep_core.errors import UserError
from aipep_core.spec import ModelFile, load_benchmarks
from harness.downloads import download
from harness.model_cache import ModelCache

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
    with FloodServer(body_bytes=1 << 30, announce=1 << 30, pace_s=0.01) as server:
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


# Issue 19 item 13: specs written to break the loader get one line each.


def write_json(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def spec_with_test(directory: Path, **test: object) -> Path:
    document = {
        "model": {"name": "m", "format": "generic"},
        "tests": [{"identifier": "t", "metric": "delay", "iter": 1, **test}],
    }
    return write_json(directory / "bench.json", document)


@pytest.mark.parametrize(
    "test, field",
    [
        ({"commands": ["{program} --ok", "{program} --name 'unclosed"]}, "tests[0].commands[1]"),
        ({"arguments": '--name "unclosed'}, "tests[0].arguments"),
        ({"commands": ["{program} trailing\\"]}, "tests[0].commands[0]"),
    ],
)
def test_an_unbalanced_quote_is_one_line_naming_file_test_and_field(tmp_path: Path, test: dict, field: str):
    spec = spec_with_test(tmp_path, **test)
    with pytest.raises(UserError) as raised:
        load_benchmarks(spec)
    message = str(raised.value)
    assert message.startswith(f"bench.json: {field}: ")
    assert "expected" in message and "\n" not in message


def test_an_unbalanced_quote_stops_the_command_line_before_anything_runs(tmp_path: Path, capsys):
    from harness.cli import main

    spec = spec_with_test(tmp_path, commands=["{program} 'unclosed"])
    info = json.dumps({"treatment": {"program": sys.executable}})
    assert main(["-b", str(spec), "--no_db", "--model_cache", str(tmp_path / "cache"), "--info", info]) == 2
    err = capsys.readouterr().err
    assert err.startswith("harness: error: bench.json: tests[0].commands[0]: ") and err.count("\n") == 1


def test_a_benchmark_list_that_includes_itself_names_the_cycle(tmp_path: Path):
    write_json(tmp_path / "self.json", {"benchmarks": ["self.json"]})
    with pytest.raises(UserError) as raised:
        load_benchmarks(tmp_path / "self.json")
    assert (
        str(raised.value) == f"{tmp_path / 'self.json'}: benchmarks: the list includes itself: self.json -> self.json"
    )


def test_a_benchmark_list_cycle_through_another_list_names_the_cycle(tmp_path: Path):
    spec = spec_with_test(tmp_path, commands=["{program}"])
    write_json(tmp_path / "all.json", {"benchmarks": [spec.name, "nested/more.json"]})
    (tmp_path / "nested").mkdir()
    write_json(tmp_path / "nested" / "more.json", {"benchmarks": ["../all.json"]})
    with pytest.raises(UserError) as raised:
        load_benchmarks(tmp_path / "all.json")
    assert str(raised.value) == (
        f"{tmp_path / 'nested' / 'more.json'}: benchmarks: the list includes itself: "
        "all.json -> nested/more.json -> all.json"
    )


def test_the_same_spec_twice_in_a_list_is_not_a_cycle(tmp_path: Path):
    spec = spec_with_test(tmp_path, commands=["{program}"])
    write_json(tmp_path / "inner.json", {"benchmarks": [spec.name]})
    write_json(tmp_path / "outer.json", {"benchmarks": ["inner.json", "inner.json", spec.name]})
    assert len(load_benchmarks(tmp_path / "outer.json")) == 3


@pytest.mark.parametrize("location", ["//../../../outside.onnx", "//models/../../outside.onnx", "///outside.onnx"])
def test_a_root_relative_location_cannot_leave_the_root_model_dir(tmp_path: Path, location: str):
    root = tmp_path / "deep" / "er" / "root"
    root.mkdir(parents=True)
    (tmp_path / "outside.onnx").write_bytes(b"secret")
    (tmp_path / "deep" / "er" / "outside.onnx").write_bytes(b"secret")
    cache = ModelCache(tmp_path / "cache", root_model_dir=root)
    file = ModelFile(role="model", filename="model.onnx", location=location)
    with pytest.raises(UserError) as raised:
        cache.resolve(file, tmp_path, source="bench.json")
    assert str(raised.value) == (
        f"bench.json: model.files.model.location: {location} leaves --root_model_dir; "
        "expected a path inside it, without '..' or a leading '/'"
    )


def test_a_local_md5_mismatch_does_not_print_the_files_md5(tmp_path: Path):
    secret = tmp_path / "model.onnx"
    secret.write_bytes(b"not the model")
    expected = hashlib.md5(b"the model").hexdigest()
    file = ModelFile(role="model", filename="model.onnx", location=str(secret), md5=expected)
    with pytest.raises(UserError) as raised:
        ModelCache(tmp_path / "cache").resolve(file, tmp_path, source="bench.json")
    assert str(raised.value) == f"bench.json: model.files.model.md5: {secret} does not match the spec's md5 {expected}"
    assert hashlib.md5(b"not the model").hexdigest() not in str(raised.value)


def test_a_downloaded_md5_mismatch_does_not_print_the_bodys_md5(tmp_path: Path):
    expected = hashlib.md5(b"the model").hexdigest()
    with FloodServer(body_bytes=1000, announce=1000) as server:
        file = ModelFile(role="model", filename="model.onnx", location=server.url, md5=expected)
        with pytest.raises(UserError) as raised:
            ModelCache(tmp_path / "cache").resolve(file, tmp_path, source="bench.json")
    assert str(raised.value) == (
        f"bench.json: model.files.model.md5: the file downloaded from {server.url} "
        f"does not match the spec's md5 {expected} (twice)"
    )
    assert hashlib.md5(bytes(1000)).hexdigest() not in str(raised.value)
