"""The one-line heading of a result on screen: what ran, where, and which commits."""

from __future__ import annotations

import re

from aipep_core.result_record import RunResult

_FULL_HASH = re.compile(r"[0-9a-f]{40}")


def result_title(result: RunResult) -> str:
    meta = result.meta
    parts = [str(meta.get(name, "?")) for name in ("model", "identifier", "platform")]
    parts.append(f"commit {short_commit(meta.get('commit', 'unknown'))}")
    title = " / ".join(parts)
    if meta.get("control_commit") is not None:
        title += f" vs control {short_commit(meta['control_commit'])}"
    differing = _differing_versions(meta.get("program_versions") or {}, meta.get("control_program_versions") or {})
    if differing:
        title += f" ({differing})"
    return title


def _differing_versions(treatment: dict[str, str], control: dict[str, str]) -> str:
    """`onnxruntime 1.32.0 vs 1.20.1`: an A/B of two runtime releases says so in its heading."""
    names = sorted(name for name in treatment.keys() & control.keys() if treatment[name] != control[name])
    return ", ".join(f"{name} {treatment[name]} vs {control[name]}" for name in names)


def short_commit(commit: object) -> str:
    """Full git hashes are cut to 12 characters, like `git log --abbrev=12`; other labels stay whole."""
    text = str(commit)
    return text[:12] if _FULL_HASH.fullmatch(text) else text
