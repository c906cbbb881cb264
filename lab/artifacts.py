"""Programs, specs and model files as artifacts on the results server, addressed by their md5.

The submitter uploads what a job needs; the worker fetches each file by md5 into a local
cache and checks the md5 of the bytes it got before anything runs, so what runs is exactly
what was submitted, whatever the server or the network did to it. A file is renamed into
the cache only once complete and checked, so a cut download is never taken for the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import requests

from aipep_core.errors import UserError

MD5_PATTERN = re.compile(r"^[0-9a-f]{32}$")
REQUEST_TIMEOUT_S = 60.0
_CHUNK = 1 << 20


class ArtifactRefused(UserError):
    """An artifact a job names cannot be had as named: the job is refused before anything runs."""


def artifacts_url(server_url: str) -> str:
    return f"{server_url.rstrip('/')}/api/v1/artifacts"


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def upload(server_url: str, token: str | None, content: bytes, what: str) -> str:
    """Upload `content` (named `what` in messages); its md5, once the server confirmed it has the bytes."""
    if not token:
        raise UserError("--remote_access_token: uploading a lab job's files needs the results server's token")
    md5 = hashlib.md5(content).hexdigest()
    try:
        answer = requests.post(
            artifacts_url(server_url),
            params={"md5": md5},
            data=content,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"},
            timeout=REQUEST_TIMEOUT_S,
        )
    except requests.RequestException as error:
        raise UserError(f"--remote_reporter {server_url}: cannot upload {what}: {type(error).__name__}") from None
    if answer.status_code not in (200, 201):
        reason = f"{answer.status_code} {_reason(answer)}"
        raise UserError(f"--remote_reporter {server_url}: upload of {what} refused: {reason}")
    return md5


def fetch(server_url: str, md5: str, cache: Path, executable: bool = False) -> Path:
    """The cached file with md5 `md5`, downloaded first when missing; bytes of another md5 are refused."""
    if not isinstance(md5, str) or not MD5_PATTERN.match(md5):
        raise ArtifactRefused(f"artifact {str(md5)[:64]!r}: expected an md5 of 32 lower-case hexadecimal digits")
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / md5
    if target.is_file() and file_md5(target) == md5:
        if executable:
            target.chmod(0o755)
        return target
    partial = cache / f".{md5}.{os.getpid()}.part"
    try:
        digest = hashlib.md5()
        with requests.get(f"{artifacts_url(server_url)}/{md5}", stream=True, timeout=REQUEST_TIMEOUT_S) as answer:
            if answer.status_code != 200:
                reason = f"{answer.status_code} {_reason(answer)}"
                raise ArtifactRefused(f"artifact {md5}: the results server answered {reason}")
            with partial.open("wb") as sink:
                for chunk in answer.iter_content(_CHUNK):
                    digest.update(chunk)
                    sink.write(chunk)
        if digest.hexdigest() != md5:
            raise ArtifactRefused(f"artifact {md5}: the bytes downloaded have md5 {digest.hexdigest()}; refused")
        partial.chmod(0o755 if executable else 0o644)
        partial.replace(target)
    except requests.RequestException as error:
        raise ArtifactRefused(f"artifact {md5}: cannot download it: {type(error).__name__}") from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def _reason(answer: requests.Response) -> str:
    try:
        return str(answer.json().get("error", ""))[:300]
    except ValueError:
        return answer.text[:300]
