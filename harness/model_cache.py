"""Turning a spec's model file locations into verified local files.

A spec names where a file comes from (a URL, a path under --root_model_dir, a
generated model, a local path) and, optionally, its md5. Benchmarks are only
comparable if they run on exactly those bytes, so every file handed out here
has passed its md5 check, and downloaded or generated files live in a cache
that holds only complete files: reusing one needs no network at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from aipep_core.errors import UserError
from aipep_core.spec import ModelFile
from harness.downloads import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUTS, DownloadError, DownloadTooLarge, Timeouts, download
from harness.generated_models import generate_model

GENERATED_PREFIX = "generated://"
ROOT_RELATIVE_PREFIX = "//"
HASH_CHUNK_BYTES = 1 << 20
# Long enough that two locations never share a directory in practice, short
# enough to keep cache paths readable.
LOCATION_HASH_CHARS = 16


def file_md5(path: Path) -> str:
    """md5 (hex) of a file read in chunks, so a model of gigabytes never has to fit in memory."""
    digest = hashlib.md5()
    with path.open("rb") as source:
        while chunk := source.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


class ModelCache:
    """Resolves model files for specs; downloaded and generated files are kept under `cache_dir`.

    Cache layout: `<cache_dir>/<hash of the location>/<filename>`, so two specs
    naming the same URL share one copy and two URLs ending in the same file
    name never collide.
    """

    def __init__(
        self,
        cache_dir: Path,
        root_model_dir: Path | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        max_download_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.cache_dir = cache_dir
        self.root_model_dir = root_model_dir
        self.timeouts = timeouts
        self.max_download_bytes = max_download_bytes

    def resolve_all(self, files: dict[str, ModelFile], spec_dir: Path, source: str | None = None) -> dict[str, Path]:
        """Local paths for every role of a spec's `model.files`."""
        return {role: self.resolve(file, spec_dir, source) for role, file in files.items()}

    def resolve(self, file: ModelFile, spec_dir: Path, source: str | None = None, group: str = "model.files") -> Path:
        """A local path to `file` whose md5 matches the spec's (when the spec gives one).

        `spec_dir` anchors relative local paths, as in FAI-PEP; `source` names
        the spec in error messages (the directory is named when it is absent), `group` the
        field the file is listed under.
        """
        context = _FileContext(file, source or str(spec_dir), group)
        location = file.location
        if location.startswith(("http://", "https://")):
            return self._downloaded(context)
        if location.startswith(GENERATED_PREFIX):
            return self._generated(context)
        if location.startswith(ROOT_RELATIVE_PREFIX):
            return self._under_root(context)
        return _checked_local(context, (spec_dir / Path(location).expanduser()))

    def cached_path(self, file: ModelFile) -> Path:
        """Where the cache keeps the file for this location (whether or not it is there yet)."""
        location_hash = hashlib.sha256(file.location.encode()).hexdigest()[:LOCATION_HASH_CHARS]
        return self.cache_dir / location_hash / file.filename

    def _downloaded(self, context: _FileContext) -> Path:
        file = context.file
        target = self._cache_target(context)
        if target.is_file() and (file.md5 is None or file_md5(target) == context.expected_md5):
            return target
        actual = self._fetch(context, target)
        if context.expected_md5 is not None and actual != context.expected_md5:
            # One more try: a proxy or a flaky link can corrupt one transfer;
            # the same wrong bytes twice means the spec or the server is wrong.
            actual = self._fetch(context, target)
        if context.expected_md5 is not None and actual != context.expected_md5:
            target.unlink(missing_ok=True)
            _remove_if_empty(target.parent)
            raise UserError(
                f"{context.field('md5')}: the file downloaded from {file.location} "
                f"does not match the spec's md5 {context.expected_md5} (twice)"
            )
        return target

    def _fetch(self, context: _FileContext, target: Path) -> str:
        try:
            return download(context.file.location, target, self.timeouts, max_bytes=self.max_download_bytes)
        except DownloadError as error:
            _remove_if_empty(target.parent)
            hint = " (--max_download_mb raises the cap)" if isinstance(error, DownloadTooLarge) else ""
            raise UserError(
                f"{context.field('location')}: cannot download {context.file.location}: {error}{hint}"
            ) from None

    def _generated(self, context: _FileContext) -> Path:
        file = context.file
        name = file.location[len(GENERATED_PREFIX) :]
        target = self._cache_target(context)
        # Without an md5 there is nothing to tell a stale file from a current
        # one, so the (local, deterministic) generator runs again.
        if context.expected_md5 is not None and target.is_file() and file_md5(target) == context.expected_md5:
            return target
        actual = _write_atomically(target, lambda destination: generate_model(name, destination))
        if context.expected_md5 is not None and actual != context.expected_md5:
            target.unlink(missing_ok=True)
            _remove_if_empty(target.parent)
            raise UserError(
                f"{context.field('md5')}: expected {context.expected_md5}, but generator {file.location} "
                f"now writes {actual} (the generator changed; update the spec's md5 if that was intended)"
            )
        return target

    def _under_root(self, context: _FileContext) -> Path:
        if self.root_model_dir is None:
            raise UserError(
                f"{context.field('location')}: {context.file.location} is relative to --root_model_dir, "
                "expected --root_model_dir to be given"
            )
        relative = context.file.location[len(ROOT_RELATIVE_PREFIX) :]
        if PurePosixPath(relative).is_absolute() or ".." in PurePosixPath(relative).parts:
            raise UserError(
                f"{context.field('location')}: {context.file.location} leaves --root_model_dir; "
                "expected a path inside it, without '..' or a leading '/'"
            )
        return _checked_local(context, self.root_model_dir / relative)

    def _cache_target(self, context: _FileContext) -> Path:
        filename = context.file.filename
        if filename in ("", ".", "..") or Path(filename).name != filename:
            raise UserError(f"{context.field('filename')}: expected a plain file name, got {filename!r}")
        return self.cached_path(context.file)


class _FileContext:
    """The spec and role a file belongs to, for one-line error messages."""

    def __init__(self, file: ModelFile, source: str, group: str = "model.files") -> None:
        self.file = file
        self.source = source
        self.group = group
        self.expected_md5 = file.md5.lower() if file.md5 else None

    def field(self, name: str) -> str:
        return f"{self.source}: {self.group}.{self.file.role}.{name}"


def _checked_local(context: _FileContext, path: Path) -> Path:
    """Local files are used where they are (models can be large); only their md5 is checked.

    A mismatch never prints the file's own md5: a spec can name any path the
    harness may read, and its digest would tell whoever reads the error (a
    results server, a shared log) what that file holds.
    """
    if not path.is_file():
        raise UserError(f"{context.field('location')}: expected an existing file, got {path}")
    if context.expected_md5 is not None:
        actual = file_md5(path)
        if actual != context.expected_md5:
            raise UserError(f"{context.field('md5')}: {path} does not match the spec's md5 {context.expected_md5}")
    return path


def _write_atomically(target: Path, write: Callable[[Path], None]) -> str:
    """Let `write` produce the file in a private directory, then move it into place; return its md5.

    The private directory (rather than a temporary file) gives the writer the
    real file name, which generators may use to pick a format.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    try:
        produced = scratch / target.name
        write(produced)
        actual = file_md5(produced)
        os.replace(produced, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        _remove_if_empty(target.parent)
        raise
    shutil.rmtree(scratch, ignore_errors=True)
    return actual


def _remove_if_empty(directory: Path) -> None:
    """A failed fetch should not leave an empty per-location directory behind."""
    with contextlib.suppress(OSError):
        directory.rmdir()
