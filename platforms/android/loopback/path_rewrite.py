"""How the loopback device maps device paths onto its root directory.

The file sync service maps every path: `/x/y` is `ROOT/x/y`. Shell commands
run on the host's /bin/sh, so host tools (/bin, /usr, /dev/null) must keep
their meaning; only absolute paths under the top-level directories of an
Android file system are rewritten, textually, wherever they appear in the
command (inside quotes too). A consequence worth knowing: a command that
prints such a path, or builds one at run time (`cd /; cd data`), sees the
host's directory, not the device's.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

DEVICE_TOP_DIRECTORIES = (
    "data",
    "sdcard",
    "storage",
    "system",
    "vendor",
    "product",
    "odm",
    "apex",
    "proc",
    "sys",
    "mnt",
    "cache",
)
_DEVICE_PATH = re.compile(r"(?<![\w./~$-])/(" + "|".join(DEVICE_TOP_DIRECTORIES) + r")(?![\w.-])")
_SAFE_ROOT = re.compile(r"[A-Za-z0-9_./+-]+")


def check_root(root: Path) -> Path:
    """A root whose path needs no quoting, so it can be pasted into shell text."""
    resolved = root.resolve()
    if not _SAFE_ROOT.fullmatch(str(resolved)):
        raise ValueError(f"--root: expected a path of letters, digits and _./+-, got {str(resolved)!r}")
    return resolved


def host_path(root: Path, device_path: str) -> Path:
    """The file behind a device path; `..` cannot climb out of the root."""
    normal = posixpath.normpath("/" + device_path).lstrip("/")
    return root / normal if normal else root


# /proc/<pid>/... and /proc/self/...: the device's processes are host processes, so their files are the host's.
_PROCESS_FILES = re.compile(r"/(\$|\d|self/)")


def rewrite_command(root: Path, command: str) -> str:
    def rewrite(match: re.Match) -> str:
        if match.group(1) == "proc" and _PROCESS_FILES.match(command, match.end()):
            return match.group(0)
        return f"{root}/{match.group(1)}"

    return _DEVICE_PATH.sub(rewrite, command)
