"""Copying files to and from a board over SFTP, sending only what changed.

Models and programs are pushed before every spec, and a board's link is
often slow, so a file whose remote copy has the same size and md5 is left
alone (its mode bits are still fixed, so a program stays executable). A
transfer goes to a temporary name and is renamed into place, so an interrupted
push never leaves a half file under the real name.
"""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import stat
from pathlib import Path

from aipep_core.errors import RunFailure
from platforms.ssh.connection import SshConnection

_CHUNK = 1 << 20
# A slow board still hashes this fast; a large model gets that much longer than a network wait to be checked.
MD5_BYTES_PER_S = 10e6


class DeviceStorageError(RunFailure):
    """The board would not store a file (disk full, no permission, read-only file system)."""


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def push_file(connection: SshConnection, local: Path, remote: str) -> bool:
    """Make `remote` a copy of `local`; return whether bytes had to be sent."""
    sftp = connection.sftp()
    mode = stat.S_IMODE(local.stat().st_mode)
    with connection.guard(f"pushing {local.name}"):
        if _same_content(connection, local, remote):
            if stat.S_IMODE(sftp.stat(remote).st_mode) != mode:
                sftp.chmod(remote, mode)
            return False
        partial = f"{remote}.aipep-partial"
        try:
            sftp.put(str(local), partial, confirm=True)
            sftp.chmod(partial, mode)
            sftp.posix_rename(partial, remote)
        except (ConnectionError, TimeoutError):
            raise
        except OSError as exc:
            if not connection.transport.is_active():
                raise
            raise _storage_error(connection, remote, local.stat().st_size, exc) from None
    return True


def pull_file(connection: SshConnection, remote: str, local: Path) -> None:
    """Copy a device file here; a missing remote file raises FileNotFoundError like a local copy would."""
    local.parent.mkdir(parents=True, exist_ok=True)
    with connection.guard(f"pulling {remote}"):
        connection.sftp().get(remote, str(local))


def make_dirs(connection: SshConnection, remote_dir: str) -> None:
    output = connection.execute(f"mkdir -p -- {shlex.quote(remote_dir)}")
    if output.status != 0:
        reason = output.stderr.decode(errors="replace").strip()
        raise DeviceStorageError(f"ssh device {connection.address}: cannot create {remote_dir}: {reason}")


def _storage_error(connection: SshConnection, remote: str, size: int, exc: OSError) -> DeviceStorageError:
    """Name the file and, since SFTP reports a full disk only as 'Failure', the space left where it goes."""
    with contextlib.suppress(OSError):
        connection.sftp().remove(f"{remote}.aipep-partial")
    reason = exc.strerror or str(exc) or type(exc).__name__
    free = _free_kib(connection, remote.rsplit("/", 1)[0] or "/")
    if free is not None:
        reason += f"; it needs {-(-size // 1024)} KiB, {free} KiB are free there"
    return DeviceStorageError(f"ssh device {connection.address}: cannot write {remote}: {reason}")


def _free_kib(connection: SshConnection, directory: str) -> int | None:
    """The 'Available' column of POSIX `df -P`, which busybox prints too."""
    output = connection.execute(f"df -Pk -- {shlex.quote(directory)}")
    lines = output.stdout.decode(errors="replace").strip().splitlines()
    fields = lines[-1].split() if output.status == 0 and len(lines) >= 2 else []
    return int(fields[3]) if len(fields) >= 4 and fields[3].isdigit() else None


def _same_content(connection: SshConnection, local: Path, remote: str) -> bool:
    try:
        remote_size = connection.sftp().stat(remote).st_size
    except FileNotFoundError:
        return False
    if remote_size != local.stat().st_size:
        return False
    output = connection.execute(
        f"md5sum -- {shlex.quote(remote)}", timeout=connection.timeout + remote_size / MD5_BYTES_PER_S
    )
    remote_md5 = output.stdout.decode(errors="replace").split(" ", 1)[0] if output.status == 0 else None
    return remote_md5 == md5_of(local)
