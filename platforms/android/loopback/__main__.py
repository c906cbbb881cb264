"""`python -m platforms.android.loopback`: the stand-in phone from the command line.

The phone checks ADB's RSA signatures with the `cryptography` package, which the android
extra installs. A user who has not installed the extra is told so in one line (exit 2)
rather than shown a traceback.
"""

from __future__ import annotations

import sys

# What the phone imports from outside the standard library, all brought by `.[android]`.
ANDROID_EXTRA_PACKAGES = frozenset({"cryptography"})


def main() -> int:
    try:
        from platforms.android.loopback.device import main as run_device
    except ModuleNotFoundError as missing:
        if (missing.name or "").partition(".")[0] not in ANDROID_EXTRA_PACKAGES:
            raise
        print(
            f"python -m platforms.android.loopback: the {missing.name} package is missing;"
            " install the android extra: pip install -e '.[android]'",
            file=sys.stderr,
        )
        return 2
    return run_device()


if __name__ == "__main__":
    sys.exit(main())
