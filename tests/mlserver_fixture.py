"""A real MLServer (from PyPI) on 127.0.0.1 serving generated ONNX models, for the endpoint tests.

The endpoint client must be tested against a server that speaks the Open Inference Protocol
for real, not against a stand-in written to agree with it. MLServer is started as its own
process from a model repository made in a tmp dir; every model is served by the small
onnxruntime runtime beside this file (mlserver_onnx_runtime.py, copied to a folder of its own
on the server's path, so that no other module of the tests can shadow one the server imports).

Ports: HTTP and gRPC are given port 0, so the kernel chooses; uvicorn reports the HTTP port it
got in its start-up line, read from the server's log. The metrics server is switched off.
Every wait has a deadline, and the server's whole process group is ended at teardown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

import requests

RUNTIME_SOURCE = Path(__file__).resolve().with_name("mlserver_onnx_runtime.py")
RUNTIME = f"{RUNTIME_SOURCE.stem}.OnnxRuntimeModel"
# MLServer imports a lot (FastAPI, gRPC, pandas) and the machine may be busy: generous, but bounded.
READY_DEADLINE_S = 180.0
STOP_DEADLINE_S = 30.0
POLL_S = 0.1
_HTTP_PORT = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class ServedModel:
    """A model of the repository: `onnx` is served under `name`, each answer `delay_ms` late;
    every request after the first `fail_after` is answered with an error, and the one after the
    first `exit_after` kills the server (None: never)."""

    name: str
    onnx: Path
    delay_ms: float = 0.0
    fail_after: int | None = None
    exit_after: int | None = None


@dataclass
class MLServer:
    process: subprocess.Popen
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """End the server's process group: politely, then for sure."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_DEADLINE_S)


def start_mlserver(root: Path, models: list[ServedModel]) -> MLServer:
    """Write a model repository at `root`, start MLServer on it and wait until it is ready."""
    root.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": 0,
        "grpc_port": 0,
        "metrics_endpoint": None,
        "parallel_workers": 0,
        "debug": False,
    }
    (root / "settings.json").write_text(json.dumps(settings))
    for model in models:
        folder = root / model.name
        folder.mkdir()
        model_settings = {
            "name": model.name,
            "implementation": RUNTIME,
            "parameters": {
                "uri": str(model.onnx),
                "extra": {"delay_ms": model.delay_ms, "fail_after": model.fail_after, "exit_after": model.exit_after},
            },
        }
        (folder / "model-settings.json").write_text(json.dumps(model_settings))
    runtime_dir = root / "runtime"
    runtime_dir.mkdir()
    shutil.copy(RUNTIME_SOURCE, runtime_dir)
    log = root / "mlserver.log"
    python_path = os.pathsep.join(filter(None, [str(runtime_dir), os.environ.get("PYTHONPATH")]))
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(Path(sysconfig.get_path("scripts")) / "mlserver"), "start", str(root)],
            cwd=root,
            env={**os.environ, "PYTHONPATH": python_path},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = MLServer(process, "", log)
    try:
        server.url = _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: MLServer) -> str:
    deadline = time.monotonic() + READY_DEADLINE_S
    url = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"MLServer exited with status {server.process.returncode}:\n{server.log_text()[-3000:]}")
        if url is None:
            found = _HTTP_PORT.search(server.log_text())
            url = f"http://127.0.0.1:{found.group(1)}" if found else None
        if url is not None and _ready(url):
            return url
        time.sleep(POLL_S)
    raise RuntimeError(f"MLServer not ready after {READY_DEADLINE_S:g} s:\n{server.log_text()[-3000:]}")


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/v2/health/ready", timeout=5).status_code == 200
    except requests.RequestException:
        return False
