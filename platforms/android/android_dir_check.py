"""Checking, before anything runs, that the device can create, enter and write --android_dir.

Every run writes its side files under that directory; when it cannot, the run
script can only exit 125 with its stderr file unwritten, so the reason would be
lost. One shell call at prepare time tries each step and reports the first
that fails with the device's own reason (`Read-only file system`, `Permission
denied`, `Not a directory`), while it can still be said in one line.
"""

from __future__ import annotations

import shlex

_MARK = "aipep-android-dir:"
_STEPS = {"create": "create it", "enter": "enter it", "write": "write in it"}


def check_script(directory: str) -> str:
    """A script that prints `aipep-android-dir: ok`, or `aipep-android-dir: STEP` then the failing command's error."""
    d = shlex.quote(directory)
    probe = shlex.quote(f"{directory}/.aipep-write-check")
    return "; ".join(
        [
            f"mkdir -p {d} 2>&1 || {{ echo; echo {_MARK} create; exit 0; }}",
            f"cd {d} 2>&1 || {{ echo; echo {_MARK} enter; exit 0; }}",
            f"( : > {probe} ) 2>&1 || {{ echo; echo {_MARK} write; exit 0; }}",
            f"rm -f {probe}",
            f"echo {_MARK} ok",
        ]
    )


def check_problem(output: str) -> str | None:
    """None when the directory is usable, else what failed and why, e.g. `cannot create it (Not a directory)`."""
    lines = [line.strip() for line in output.splitlines()]
    verdicts = [line[len(_MARK) :].strip() for line in lines if line.startswith(_MARK)]
    if not verdicts:
        return f"did not answer the directory check ({_first_line(output) or 'no output'})"
    if verdicts[-1] == "ok":
        return None
    step = _STEPS.get(verdicts[-1], verdicts[-1])
    reason = _reason(lines[: lines.index(f"{_MARK} {verdicts[-1]}")])
    return f"cannot {step}" + (f" ({reason})" if reason else "")


def _reason(error_lines: list[str]) -> str:
    """The errno text at the end of a tool's message (`mkdir: '/x': Not a directory`), without its paths.

    The paths in the message are the device's (or, on the loopback device, the
    host's stand-in for them); the directory is already named by the caller.
    """
    first = next((line for line in error_lines if line), "")
    return first.rpartition(": ")[2].strip()


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:120]
