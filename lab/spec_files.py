"""The files a spec names (model files, a test's input files and golden outputs) as artifacts of a lab job.

A spec names its files by path on the submitter's machine, which means nothing on a lab
host. So the submitter uploads each local file (its md5 is its address) and sends the spec
with the artifact's URL and md5 in place of the path. The worker fetches every artifact the
spec names into its cache, checks its md5 before anything runs (a wrong one refuses the
job), and runs the spec rewritten to its checked copies, each under its own file name (a
program may care about the extension). A model or input file a job names by a path of the
worker's is refused: a worker reads only what was submitted.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aipep_core.spec import BenchmarkSpec, ModelFile
from harness.model_cache import GENERATED_PREFIX, ModelCache
from lab.artifacts import ArtifactRefused, artifacts_url, fetch, upload

MODEL_FILES = "model.files"
INPUT_FILES = "input_files"
OUTPUT_FILES = "output_files"
_REMOTE = ("http://", "https://", GENERATED_PREFIX)


def spec_with_uploaded_files(
    spec: BenchmarkSpec, root_model_dir: str | None, server_url: str, token: str | None
) -> dict:
    """The spec's document with every local file it names uploaded and named by its artifact's URL and md5.

    An output file is uploaded only where it exists (a golden output); elsewhere its location
    names where the program writes, which the worker decides."""
    document = copy.deepcopy(spec.raw)
    spec_dir = Path(os.path.abspath(spec.path)).parent
    with tempfile.TemporaryDirectory(prefix="aipep-lab-submit-") as scratch:
        cache = ModelCache(Path(scratch), Path(root_model_dir) if root_model_dir else None)
        for group, where, entry in file_entries(document):
            location = str(entry.get("location", ""))
            if location.startswith(_REMOTE):
                continue
            if group == OUTPUT_FILES and ("{" in location or not (spec_dir / location).expanduser().is_file()):
                continue
            file = ModelFile(where.rsplit(".", 1)[-1], str(entry.get("filename", "")), location, entry.get("md5"))
            content = cache.resolve(file, spec_dir, str(spec.path), where.rsplit(".", 1)[0]).read_bytes()
            md5 = upload(server_url, token, content, f"{spec.path.name} {where}")
            entry.update(location=f"{artifacts_url(server_url)}/{md5}", md5=md5)
    return document


def spec_with_fetched_files(document: dict, server_url: str, artifact_dir: Path, spec_name: str) -> dict:
    """The spec's document with every artifact it names fetched, checked and named by its cached copy."""
    prefix = f"{artifacts_url(server_url)}/"
    document = copy.deepcopy(document)
    for group, where, entry in file_entries(document):
        location = entry.get("location")
        if not isinstance(location, str):
            continue
        if location.startswith(prefix):
            md5 = location.removeprefix(prefix)
            if entry.get("md5") not in (None, md5):
                raise ArtifactRefused(f"{spec_name}: {where}.md5: expected the md5 its artifact is named by, {md5}")
            entry["location"] = str(named_copy(fetch(server_url, md5, artifact_dir), artifact_dir, md5, entry))
        elif group != OUTPUT_FILES and not location.startswith(_REMOTE):
            raise ArtifactRefused(
                f"{spec_name}: {where}.location: a lab worker reads only files submitted as artifacts, "
                f"not the path {location!r}"
            )
    return document


def file_entries(document: dict) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(group, JSON path, file object) of every file the document names, lists included."""
    model = document.get("model")
    files = model.get("files") if isinstance(model, dict) else None
    for role, entry in (files or {}).items() if isinstance(files, dict) else ():
        if isinstance(entry, dict):
            yield MODEL_FILES, f"{MODEL_FILES}.{role}", entry
    tests = document.get("tests")
    for index, test in enumerate(tests if isinstance(tests, list) else ()):
        for group in (INPUT_FILES, OUTPUT_FILES):
            roles = test.get(group) if isinstance(test, dict) else None
            for role, entries in roles.items() if isinstance(roles, dict) else ():
                listed = entries if isinstance(entries, list) else [entries]
                for position, entry in enumerate(listed):
                    if isinstance(entry, dict):
                        suffix = f"[{position}]" if isinstance(entries, list) else ""
                        yield group, f"tests[{index}].{group}.{role}{suffix}", entry


def named_copy(cached: Path, artifact_dir: Path, md5: str, entry: dict[str, Any]) -> Path:
    """The cached artifact under the file name the spec gives it, in a folder of its md5."""
    name = Path(str(entry.get("filename", ""))).name
    named = artifact_dir / "files" / md5 / (name if name not in ("", ".", "..") else "file")
    if not named.is_file():
        named.parent.mkdir(parents=True, exist_ok=True)
        partial = named.with_name(f".{named.name}.{os.getpid()}.part")
        shutil.copyfile(cached, partial)
        partial.replace(named)
    return named
