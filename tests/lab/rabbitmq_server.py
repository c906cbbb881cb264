"""A real RabbitMQ broker on loopback ports, with a password, for the lab's broker-agnostic tests.

RabbitMQ needs an Erlang port mapper (epmd) besides its own AMQP and distribution ports,
and all three must be told a number: each gets one the kernel just handed out, and the
whole start is tried again on new ports when one was taken meanwhile (tests/ports.py).
epmd runs as a child of the test (the broker is told not to start one of its own, which
would outlive the test), and everything the broker writes (data, logs, its Erlang
cookie) stays in the test's folder.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ports import PortTaken, kernel_chosen_port, start_on_a_free_port

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
EPMD = "epmd"
# Erlang boots slowly on a loaded two-core machine; the broker is ready long before this.
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
USER = "lab"


@dataclass
class RabbitMQServer:
    process: subprocess.Popen
    epmd: subprocess.Popen
    port: int
    password: str
    log: Path

    @property
    def url(self) -> str:
        return f"amqp://{USER}:{self.password}@127.0.0.1:{self.port}//"

    def stop(self) -> None:
        for process in (self.process, self.epmd):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT_S)


def start_rabbitmq(directory: Path) -> RabbitMQServer:
    if not SERVER.exists():
        raise FileNotFoundError("RabbitMQ is not installed (Debian package rabbitmq-server; .ci/run installs it)")
    password = secrets.token_hex(12)
    return start_on_a_free_port(lambda port: _start_on(directory / f"rabbitmq-{port}", port, password))


def _start_on(directory: Path, port: int, password: str) -> RabbitMQServer:
    directory.mkdir(parents=True)
    epmd_port, dist_port = kernel_chosen_port(), kernel_chosen_port()
    (directory / "enabled_plugins").write_text("[].\n")
    (directory / "rabbitmq.conf").write_text(f"default_user = {USER}\ndefault_pass = {password}\n")
    environment = {
        **os.environ,
        "HOME": str(directory),
        "ERL_EPMD_PORT": str(epmd_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODENAME": f"aipep-test-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
        "RABBITMQ_LOG_BASE": str(directory / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(directory / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-start_epmd false",
    }
    epmd_log = (directory / "epmd.log").open("wb")
    epmd = subprocess.Popen(
        [EPMD, "-port", str(epmd_port), "-address", "127.0.0.1"],
        stdin=subprocess.DEVNULL,
        stdout=epmd_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    epmd_log.close()
    log = directory / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(SERVER)],
            env=environment,
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RabbitMQServer(process, epmd, port, password, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Server startup complete" in text:
            return server
        if process.poll() is not None or epmd.poll() is not None:
            server.stop()
            if "eaddrinuse" in text or "already in use" in (directory / "epmd.log").read_text(errors="replace"):
                raise PortTaken(port)
            raise RuntimeError(f"RabbitMQ exited with {process.returncode}: {text[-3000:]}")
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(
        f"RabbitMQ was not ready within {START_TIMEOUT_S:g} s: {log.read_text(errors='replace')[-3000:]}"
    )
