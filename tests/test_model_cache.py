"""The model cache against a real loopback HTTP server, real files and a registered generator."""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from aipep_core.errors import UserError
from aipep_core.spec import ModelFile
from harness.downloads import Timeouts, download
from harness.generated_models import register_generator
from harness.model_cache import ModelCache, file_md5
from tests.fixtures_http import Answer, ScriptedServer, dead_port_url

MODEL = bytes(range(256)) * 64 + b"weights"
MODEL_MD5 = hashlib.md5(MODEL).hexdigest()
CORRUPT = b"X" + MODEL[1:]
SHORT = Timeouts(connect=2, read=2)
_unique = itertools.count()


def stored_files(directory: Path) -> list[Path]:
    """Every non-directory under `directory` (empty directories do not count as a leftover)."""
    return sorted(path for path in directory.rglob("*") if not path.is_dir())


def model_file(location: str, md5: str | None = MODEL_MD5, filename: str = "model.onnx") -> ModelFile:
    return ModelFile(role="model", filename=filename, location=location, md5=md5)


@pytest.fixture
def http_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def cache(tmp_path: Path) -> ModelCache:
    return ModelCache(tmp_path / "cache", timeouts=SHORT)


def test_download_lands_in_cache_under_location_hash(cache: ModelCache, http_server: ScriptedServer, tmp_path: Path):
    url = http_server.serve("/m.onnx", Answer(MODEL))
    path = cache.resolve(model_file(url), tmp_path)
    assert path.read_bytes() == MODEL
    assert path.parent.parent == cache.cache_dir
    assert path.name == "model.onnx"
    assert stored_files(cache.cache_dir) == [path]


def test_cache_hit_makes_no_request(cache: ModelCache, http_server: ScriptedServer, tmp_path: Path):
    url = http_server.serve("/m.onnx", Answer(MODEL))
    first = cache.resolve(model_file(url), tmp_path)
    again = ModelCache(cache.cache_dir, timeouts=SHORT).resolve(model_file(url), tmp_path)
    assert again == first
    assert http_server.requests["/m.onnx"] == 1


def test_cached_file_without_md5_is_reused(cache: ModelCache, http_server: ScriptedServer, tmp_path: Path):
    url = http_server.serve("/m.onnx", Answer(MODEL))
    cache.resolve(model_file(url, md5=None), tmp_path)
    cache.resolve(model_file(url, md5=None), tmp_path)
    assert http_server.requests["/m.onnx"] == 1


def test_cached_file_with_wrong_md5_is_downloaded_again(cache: ModelCache, http_server: ScriptedServer, tmp_path: Path):
    url = http_server.serve("/m.onnx", Answer(MODEL))
    path = cache.resolve(model_file(url), tmp_path)
    path.write_bytes(CORRUPT)
    assert cache.resolve(model_file(url), tmp_path).read_bytes() == MODEL
    assert http_server.requests["/m.onnx"] == 2


def test_corrupt_transfer_is_retried_once(cache: ModelCache, http_server: ScriptedServer, tmp_path: Path):
    url = http_server.serve("/m.onnx", Answer(CORRUPT), Answer(MODEL))
    assert cache.resolve(model_file(url), tmp_path).read_bytes() == MODEL
    assert http_server.requests["/m.onnx"] == 2


def test_always_corrupt_is_a_user_error_and_leaves_nothing(
    cache: ModelCache, http_server: ScriptedServer, tmp_path: Path
):
    url = http_server.serve("/m.onnx", Answer(CORRUPT))
    with pytest.raises(UserError) as raised:
        cache.resolve(model_file(url), tmp_path, source="bench.json")
    message = str(raised.value)
    assert message == (
        f"bench.json: model.files.model.md5: the file downloaded from {url} "
        f"does not match the spec's md5 {MODEL_MD5} (twice)"
    )
    assert http_server.requests["/m.onnx"] == 2
    assert stored_files(cache.cache_dir) == []


def test_http_error_status_is_named(cache: ModelCache, http_server: ScriptedServer, tmp_path: Path):
    url = http_server.serve("/missing.onnx", Answer(b"no such model", status=404))
    with pytest.raises(UserError, match=r"cannot download .*/missing\.onnx: HTTP 404 Not Found$"):
        cache.resolve(model_file(url), tmp_path)
    assert stored_files(cache.cache_dir) == []


def test_unreachable_server_is_one_line(cache: ModelCache, tmp_path: Path):
    url = dead_port_url()
    with pytest.raises(UserError) as raised:
        cache.resolve(model_file(url), tmp_path, source="bench.json")
    message = str(raised.value)
    assert message == f"bench.json: model.files.model.location: cannot download {url}: connection refused"
    assert stored_files(cache.cache_dir) == []


@pytest.mark.parametrize("md5", [MODEL_MD5, None])
def test_download_cut_mid_stream_leaves_nothing(
    cache: ModelCache, http_server: ScriptedServer, tmp_path: Path, md5: str | None
):
    url = http_server.serve("/m.onnx", Answer(MODEL, cut_after=len(MODEL) // 2))
    with pytest.raises(UserError, match="cannot download .*: connection closed"):
        cache.resolve(model_file(url, md5=md5), tmp_path)
    assert stored_files(cache.cache_dir) == []


def test_interrupt_during_download_removes_the_partial_file(http_server: ScriptedServer, tmp_path: Path):
    class InterruptingTerminal(io.StringIO):
        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            raise KeyboardInterrupt

    url = http_server.serve("/m.onnx", Answer(MODEL))
    with pytest.raises(KeyboardInterrupt):
        download(url, tmp_path / "cache" / "model.onnx", SHORT, progress=InterruptingTerminal())
    assert stored_files(tmp_path / "cache") == []


def test_progress_shown_on_a_terminal_only(http_server: ScriptedServer, tmp_path: Path):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    url = http_server.serve("/m.onnx", Answer(MODEL))
    terminal, log = Terminal(), io.StringIO()
    assert download(url, tmp_path / "a.onnx", SHORT, progress=terminal) == MODEL_MD5
    assert download(url, tmp_path / "b.onnx", SHORT, progress=log) == MODEL_MD5
    assert terminal.getvalue().endswith("downloading: 0.0 / 0.0 MiB\n")
    assert log.getvalue() == ""


def test_root_relative_location(tmp_path: Path):
    root = tmp_path / "models"
    (root / "squeeze").mkdir(parents=True)
    (root / "squeeze" / "model.onnx").write_bytes(MODEL)
    cache = ModelCache(tmp_path / "cache", root_model_dir=root)
    assert cache.resolve(model_file("//squeeze/model.onnx"), tmp_path) == root / "squeeze" / "model.onnx"


def test_root_relative_location_without_root_names_the_flag(cache: ModelCache, tmp_path: Path):
    with pytest.raises(UserError, match="expected --root_model_dir to be given"):
        cache.resolve(model_file("//squeeze/model.onnx"), tmp_path)


def test_relative_local_path_is_against_the_spec_dir_and_used_in_place(cache: ModelCache, tmp_path: Path):
    spec_dir = tmp_path / "specs" / "squeeze"
    (spec_dir / "data").mkdir(parents=True)
    (spec_dir / "data" / "model.onnx").write_bytes(MODEL)
    assert cache.resolve(model_file("data/model.onnx"), spec_dir) == spec_dir / "data" / "model.onnx"
    assert not cache.cache_dir.exists()


def test_absolute_local_path(cache: ModelCache, tmp_path: Path):
    model = tmp_path / "model.onnx"
    model.write_bytes(MODEL)
    assert cache.resolve(model_file(str(model), md5=MODEL_MD5.upper()), tmp_path / "elsewhere") == model


def test_missing_local_file_names_path_and_role(cache: ModelCache, tmp_path: Path):
    with pytest.raises(UserError) as raised:
        cache.resolve(model_file("data/absent.onnx"), tmp_path, source="bench.json")
    assert str(raised.value) == (
        f"bench.json: model.files.model.location: expected an existing file, got {tmp_path / 'data' / 'absent.onnx'}"
    )


def test_local_file_with_wrong_md5(cache: ModelCache, tmp_path: Path):
    (tmp_path / "model.onnx").write_bytes(CORRUPT)
    with pytest.raises(UserError) as raised:
        cache.resolve(model_file("model.onnx"), tmp_path, source="bench.json")
    assert str(raised.value) == (
        f"bench.json: model.files.model.md5: {tmp_path / 'model.onnx'} does not match the spec's md5 {MODEL_MD5}"
    )


def test_filename_must_be_a_plain_name(cache: ModelCache, http_server: ScriptedServer, tmp_path: Path):
    url = http_server.serve("/m.onnx", Answer(MODEL))
    with pytest.raises(UserError, match="model.files.model.filename: expected a plain file name"):
        cache.resolve(model_file(url, filename="../escape.onnx"), tmp_path)
    assert http_server.requests["/m.onnx"] == 0


def register_counting_generator(content: bytes) -> tuple[str, list[Path]]:
    """Register a generator under a name no other test uses; return the name and the list of its calls."""
    name = f"test-model-cache-{next(_unique)}.bin"
    calls: list[Path] = []

    @register_generator(name)
    def write(destination: Path) -> None:
        calls.append(destination)
        destination.write_bytes(content)

    return name, calls


def test_generated_model_is_cached_when_md5_matches(cache: ModelCache, tmp_path: Path):
    name, calls = register_counting_generator(MODEL)
    first = cache.resolve(model_file(f"generated://{name}"), tmp_path)
    second = cache.resolve(model_file(f"generated://{name}"), tmp_path)
    assert first == second
    assert first.read_bytes() == MODEL
    assert len(calls) == 1
    assert calls[0].name == "model.onnx"
    assert stored_files(cache.cache_dir) == [first]


def test_generated_model_without_md5_is_regenerated(cache: ModelCache, tmp_path: Path):
    name, calls = register_counting_generator(MODEL)
    cache.resolve(model_file(f"generated://{name}", md5=None), tmp_path)
    assert file_md5(cache.resolve(model_file(f"generated://{name}", md5=None), tmp_path)) == MODEL_MD5
    assert len(calls) == 2


def test_changed_generator_names_both_md5s(cache: ModelCache, tmp_path: Path):
    name, _ = register_counting_generator(CORRUPT)
    with pytest.raises(UserError) as raised:
        cache.resolve(model_file(f"generated://{name}"), tmp_path)
    assert f"expected {MODEL_MD5}" in str(raised.value)
    assert f"now writes {hashlib.md5(CORRUPT).hexdigest()}" in str(raised.value)
    assert stored_files(cache.cache_dir) == []


def test_failing_generator_leaves_nothing(cache: ModelCache, tmp_path: Path):
    name = f"test-model-cache-{next(_unique)}.bin"

    @register_generator(name)
    def write(destination: Path) -> None:
        destination.write_bytes(MODEL[:10])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.resolve(model_file(f"generated://{name}"), tmp_path)
    assert stored_files(cache.cache_dir) == []


def test_resolve_all_maps_every_role(cache: ModelCache, http_server: ScriptedServer, tmp_path: Path):
    (tmp_path / "init.pb").write_bytes(b"init")
    url = http_server.serve("/m.onnx", Answer(MODEL))
    files = {
        "model": model_file(url),
        "init": ModelFile(role="init", filename="init.pb", location="init.pb"),
    }
    resolved = cache.resolve_all(files, tmp_path)
    assert resolved["init"] == tmp_path / "init.pb"
    assert resolved["model"].read_bytes() == MODEL
