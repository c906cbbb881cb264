"""A throwaway PostgreSQL cluster from Debian's packages, in a temp dir, on loopback.

The server's tests and its load benchmark run against a real PostgreSQL, never a
stand-in. PostgreSQL refuses to run as root, so when the tests run as root the
cluster belongs to the `postgres` system user and every command runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.ports import PortTaken, kernel_chosen_port, start_on_a_free_port

SUPERUSER = "aipep"

# Durability off: a test cluster is deleted afterwards, and fsync would only slow the suite.
FAST_SETTINGS = ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")


def postgres_bin_dir() -> Path:
    """The newest installed server's binaries; FileNotFoundError names the Debian package when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise FileNotFoundError("PostgreSQL server binaries not found: install Debian's postgresql package")


class PostgresCluster:
    def __init__(self, *, durable: bool = False, choose_port: Callable[[], int] = kernel_chosen_port) -> None:
        self.bin = postgres_bin_dir()
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="aipep-postgres-"))
        self.data = self.root / "data"
        self.port = 0
        self._choose_port = choose_port
        self._as_postgres = os.geteuid() == 0
        self._created = 0

    def start(self) -> PostgresCluster:
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync")
        self.port = start_on_a_free_port(self._start_on, self._choose_port)
        return self

    def _start_on(self, port: int) -> int:
        options = [f"-h 127.0.0.1 -p {port} -k {self.root}", *(() if self.durable else FAST_SETTINGS)]
        (self.root / "server.log").unlink(missing_ok=True)
        try:
            self._run(
                "pg_ctl",
                "start",
                "-w",
                "-D",
                str(self.data),
                "-l",
                str(self.root / "server.log"),
                "-o",
                " ".join(options),
            )
        except RuntimeError:
            if "Address already in use" in self.log():
                raise PortTaken(port) from None
            raise
        return port

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database's URL: each test gets its own, so none sees another's results."""
        self._created += 1
        name = f"test_{self._created}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.bin / program), *arguments]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n{self.log()}")
