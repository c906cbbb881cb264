"""The one-line heading of a result on screen: what ran, where, and which commits."""

from __future__ import annotations

import re

from harness.result import RunResult

_FULL_HASH = re.compile(r"[0-9a-f]{40}")


def result_title(result: RunResult) -> str:
    meta = result.meta
    parts = [str(meta.get(name, "?")) for name in ("model", "identifier", "platform")]
    parts.append(f"commit {short_commit(meta.get('commit', 'unknown'))}")
    title = " / ".join(parts)
    if meta.get("control_commit") is not None:
        title += f" vs control {short_commit(meta['control_commit'])}"
    return title


def short_commit(commit: object) -> str:
    """Full git hashes are cut to 12 characters, like `git log --abbrev=12`; other labels stay whole."""
    text = str(commit)
    return text[:12] if _FULL_HASH.fullmatch(text) else text
