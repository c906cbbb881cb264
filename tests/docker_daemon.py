"""A private Docker daemon for the tests, and images made from local files, with no registry.

The daemon keeps everything (socket, images, state) in a temporary directory and touches
nothing of the machine's network (no bridge, no iptables), so it runs beside a daemon the
machine may already have. Images are `docker import`s of a tarball of a few files: a test
program is linked statically and needs nothing else in the image. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
DOCKER_TIMEOUT_S = 60.0


class DaemonUnavailable(Exception):
    """The machine cannot run a Docker daemon here; the message says why."""


@dataclass
class DockerDaemon:
    process: subprocess.Popen
    directory: Path
    host: str
    log: Path

    def docker(self, *arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["docker", *arguments],
            env={**os.environ, "DOCKER_HOST": self.host},
            capture_output=True,
            text=True,
            timeout=DOCKER_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )

    def import_image(self, files: dict[str, Path], tag: str) -> str:
        """An image holding `files` (path in the image -> local file) and an empty /tmp."""
        tarball = self.directory / f"{tag.replace(':', '-')}.tar"
        with tarfile.open(tarball, "w") as archive:
            temporary = tarfile.TarInfo("tmp")
            temporary.type, temporary.mode = tarfile.DIRTYPE, 0o1777
            archive.addfile(temporary)
            for inside, local in files.items():
                archive.add(local, arcname=inside.lstrip("/"))
        done = self.docker("import", str(tarball), tag)
        if done.returncode != 0:
            raise RuntimeError(f"docker import failed: {done.stderr}")
        return tag

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_docker_daemon() -> DockerDaemon:
    """Raises DaemonUnavailable when dockerd or the docker command is missing, or the daemon does not come up."""
    dockerd = shutil.which("dockerd")
    if dockerd is None or shutil.which("docker") is None:
        raise DaemonUnavailable("dockerd or docker is not installed (Debian: apt-get install docker.io)")
    if os.geteuid() != 0:
        raise DaemonUnavailable("starting a Docker daemon needs root")
    # A short directory: a unix socket's path has a limit of about a hundred bytes.
    directory = Path(tempfile.mkdtemp(prefix="aipep-dockerd-"))
    host = f"unix://{directory / 'docker.sock'}"
    log = directory / "dockerd.log"
    command = [
        dockerd,
        "--host",
        host,
        "--data-root",
        str(directory / "data"),
        "--exec-root",
        str(directory / "exec"),
        "--pidfile",
        str(directory / "dockerd.pid"),
        "--storage-driver",
        "vfs",
        "--iptables=false",
        "--ip-masq=false",
        "--bridge=none",
    ]
    with log.open("w") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    daemon = DockerDaemon(process, directory, host, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text().strip().splitlines()[-1:] or ["no output"]
            daemon.stop()
            raise DaemonUnavailable(f"dockerd exited with {process.returncode}: {tail[0]}")
        with contextlib.suppress(subprocess.TimeoutExpired):
            if daemon.docker("version", "--format", "{{.Server.Version}}").returncode == 0:
                return daemon
        time.sleep(0.2)
    daemon.stop()
    raise DaemonUnavailable(f"dockerd did not answer within {START_TIMEOUT_S:g} s")
