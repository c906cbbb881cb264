"""A real OpenSSH server on 127.0.0.1 with throwaway keys, standing in for a Linux board.

The "board" is this machine, so a test can look at the files and processes
the SSH platform left behind with ordinary local calls.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.ports import PortTaken, kernel_chosen_port, start_on_a_free_port

SSHD = Path("/usr/sbin/sshd")
SSH_KEYGEN = "ssh-keygen"
PRIVILEGE_SEPARATION_DIR = Path("/run/sshd")
START_TIMEOUT_S = 10.0


@dataclass
class SshServer:
    process: subprocess.Popen
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    host_public_key: str
    log: Path

    @property
    def device(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"

    def options(self, **overrides) -> dict:
        """What `get_platform("ssh", ...)` needs to reach this server."""
        return {
            "device": self.device,
            "ssh_identity": str(self.client_key),
            "ssh_known_hosts": str(self.known_hosts),
            "connect_timeout": 5.0,
            **overrides,
        }

    def stop(self) -> None:
        """Kill sshd and every per-connection sshd it forked: the board's SSH service is gone.

        A session closed just before may be exiting while this runs; each process is looked at
        on its own, so one that vanishes meanwhile cannot keep the others alive."""
        sessions: list[psutil.Process] = []
        with contextlib.suppress(psutil.NoSuchProcess):
            sessions = psutil.Process(self.process.pid).children(recursive=True)
        self.process.kill()
        for process in sessions:
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.name().startswith("sshd"):
                    process.kill()
        self.process.wait(timeout=START_TIMEOUT_S)


def generate_key(path: Path) -> str:
    """Make an ed25519 key pair without a passphrase; return the public key line."""
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "aipep-test", "-f", str(path)], check=True)
    return path.with_name(path.name + ".pub").read_text().strip()


def start_sshd(
    directory: Path, choose_port: Callable[[], int] = kernel_chosen_port, launcher: tuple[str, ...] = ()
) -> SshServer:
    """`launcher`: words put before sshd's command, which must end by executing it (for a board set up differently)."""
    directory.mkdir(parents=True, exist_ok=True)
    host_public_key = generate_key(directory / "host_key")
    client_public_key = generate_key(directory / "client_key")
    (directory / "authorized_keys").write_text(client_public_key + "\n")
    if os.geteuid() == 0:
        PRIVILEGE_SEPARATION_DIR.mkdir(mode=0o755, exist_ok=True)
    return start_on_a_free_port(lambda port: _start_on(directory, port, host_public_key, launcher), choose_port)


def _start_on(directory: Path, port: int, host_public_key: str, launcher: tuple[str, ...]) -> SshServer:
    known_hosts = directory / "known_hosts"
    key_type, key_text = host_public_key.split()[:2]
    known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key_text}\n")
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {directory / 'host_key'}",
                f"AuthorizedKeysFile {directory / 'authorized_keys'}",
                "PidFile none",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "Subsystem sftp internal-sftp",
                # bash sources ~/.bashrc for commands sshd starts only at shell level 1: this keeps a build machine
                # user's interactive set-up (pyenv and the like) from adding a tenth of a second to every command.
                "SetEnv SHLVL=1",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    log = directory / "sshd.log"
    with log.open("w") as log_file:
        command = [*launcher, str(SSHD), "-D", "-e", "-f", str(config)]
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    server = SshServer(process, port, getpass.getuser(), directory / "client_key", known_hosts, host_public_key, log)
    _wait_listening(server)
    return server


def _wait_listening(server: SshServer) -> None:
    """Wait for sshd's own word that it listens: a connection could reach whoever else holds the port."""
    listening = f"Server listening on 127.0.0.1 port {server.port}."
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if listening in server.log.read_text():
            return
        if server.process.poll() is not None:
            log = server.log.read_text()
            if f"Bind to port {server.port} on 127.0.0.1 failed: Address already in use" in log:
                raise PortTaken(server.port)
            raise RuntimeError(f"sshd exited with {server.process.returncode}: {log}")
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"sshd did not listen within {START_TIMEOUT_S:g} s: {server.log.read_text()}")
