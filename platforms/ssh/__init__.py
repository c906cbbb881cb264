"""Linux boards over SSH.

Built on paramiko rather than asyncssh: the Platform interface is synchronous
(one blocking call per push, run and pull), and paramiko's blocking client
fits it without running an event loop on a thread; it reads OpenSSH
known_hosts files (hashed entries included) and new-format private keys, and
offers SFTP and per-channel timeouts, which is all this platform needs. It is
also the library of the `ssh` extra in setup.cfg.
"""

from platforms.ssh.connection import DeviceLostError
from platforms.ssh.file_sync import DeviceStorageError
from platforms.ssh.platform import SshPlatform

__all__ = ["DeviceLostError", "DeviceStorageError", "SshPlatform"]
