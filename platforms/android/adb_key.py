"""The host's ADB key: made on first use and kept, so a phone asks its user only once."""

from __future__ import annotations

import os
from pathlib import Path

from adb_shell.auth.keygen import keygen
from adb_shell.auth.sign_cryptography import CryptographySigner

from aipep_core.user_dirs import config_dir


def key_path(key_dir: str | os.PathLike | None = None) -> Path:
    return Path(key_dir).expanduser() / "adbkey" if key_dir else config_dir() / "adbkey"


def load_signer(key_dir: str | os.PathLike | None = None) -> CryptographySigner:
    """The signer for `key_dir/adbkey` (default: the user's aipep config dir), creating the key pair if missing."""
    path = key_path(key_dir)
    if not (path.exists() and path.with_name(path.name + ".pub").exists()):
        path.parent.mkdir(parents=True, exist_ok=True)
        keygen(str(path))
        path.chmod(0o600)
    return CryptographySigner(str(path))
