"""A harness job made fit to travel to another host, and made runnable again on the worker.

Paths mean nothing on another host, and a path a message names could point at anything
there, so on the way out every file the job needs becomes an artifact (uploaded by md5):
each arm's program, each arm's own model file (a model variant), each spec, and each file a
spec names by a local path (spec_files.py). On the way in, the worker refuses a job that
names a program, an arm's model, a spec or a spec's file by path alone, fetches every md5
into its cache and checks it, and only then runs the job, on its own device, with its own
reporters.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from aipep_core.errors import UserError
from aipep_core.job import Arm, Job, ModelCacheOptions, PlatformSelection, RemoteReporter, Reporters
from aipep_core.spec import BenchmarkSpec, load_benchmarks
from lab.artifacts import ArtifactRefused, fetch, upload
from lab.spec_files import named_copy, spec_with_fetched_files, spec_with_uploaded_files

# An arm's own model file (harness/variants/arm_models.py) travels as its file name and the md5 of its artifact.
ARM_MODEL = "model"
ARM_MODEL_MD5 = "model_md5"


@dataclass(frozen=True)
class Uploader:
    """The results server the submitter uploads to, with its token."""

    server_url: str
    token: str | None


def job_for_lab(job: Job, uploader: Uploader, job_id: str) -> Job:
    """`job` with its programs, specs and local model files uploaded, named by md5; nothing by path."""
    specs = [
        spec
        for path in job.specs
        for spec in load_benchmarks(path, job.string_map, per_arm=job.arms.string_map_names())
    ]
    spec_md5s = tuple(_upload_spec(spec, job, uploader) for spec in specs)
    arms = dataclasses.replace(
        job.arms,
        treatment=_uploaded_arm(job.arms.treatment, uploader),
        control=None if job.arms.control is None else _uploaded_arm(job.arms.control, uploader),
    )
    return dataclasses.replace(
        job,
        specs=tuple(spec.path.name for spec in specs),
        spec_md5s=spec_md5s,
        job_id=job_id,
        arms=arms,
        # The worker's own device, reporters and caches: nothing of this machine (no token) travels.
        platform=PlatformSelection(),
        reporters=Reporters(),
        model_cache=ModelCacheOptions(max_download_mb=job.model_cache.max_download_mb),
    )


def _uploaded_arm(arm: Arm, uploader: Uploader) -> Arm:
    arm = _with_uploaded_model(arm, uploader)
    if arm.program is None:
        return arm
    path = Path(arm.program)
    try:
        content = path.read_bytes()
    except OSError as error:
        raise UserError(f"--info: {arm.name}.program: cannot read {arm.program}: {error.strerror}") from None
    md5 = upload(uploader.server_url, uploader.token, content, f"the {arm.name} program {path.name}")
    return dataclasses.replace(arm, program=path.name, program_md5=md5)


def _with_uploaded_model(arm: Arm, uploader: Uploader) -> Arm:
    """The arm with its own model file uploaded: its name (optimizers may care) and md5 travel, not its path."""
    if ARM_MODEL not in arm.options:
        return arm
    path = Path(str(arm.options[ARM_MODEL])).expanduser()
    try:
        content = path.read_bytes()
    except OSError as error:
        raise UserError(f"--info: {arm.name}.model: cannot read {path}: {error.strerror}") from None
    md5 = upload(uploader.server_url, uploader.token, content, f"the {arm.name} model {path.name}")
    return dataclasses.replace(arm, options={**arm.options, ARM_MODEL: path.name, ARM_MODEL_MD5: md5})


def _upload_spec(spec: BenchmarkSpec, job: Job, uploader: Uploader) -> str:
    """Upload the spec with every local file it names replaced by its artifact's URL and md5."""
    root = job.model_cache.root_model_dir
    document = spec_with_uploaded_files(spec, root, uploader.server_url, uploader.token)
    text = json.dumps(document, indent=2, sort_keys=True).encode()
    return upload(uploader.server_url, uploader.token, text, f"the spec {spec.path.name}")


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker decides for every job it runs: its device, its reporter, its caches."""

    platform: str
    device: str
    platform_options: dict
    remote: RemoteReporter
    artifact_dir: Path
    model_dir: Path


def job_for_this_worker(job: Job, setup: WorkerSetup) -> Job:
    """The job as it runs here: files fetched by md5 and checked, this worker's device and reporter."""
    arms = dataclasses.replace(
        job.arms,
        treatment=_fetched_arm(job.arms.treatment, setup),
        control=None if job.arms.control is None else _fetched_arm(job.arms.control, setup),
    )
    if len(job.spec_md5s) != len(job.specs) or not job.specs:
        raise ArtifactRefused("job.spec_md5s: expected one md5 per spec; a lab worker reads no spec by path")
    specs_dir = setup.artifact_dir / "specs"
    specs = []
    for name, md5 in zip(job.specs, job.spec_md5s, strict=True):
        cached = fetch(setup.remote.url, md5, setup.artifact_dir)
        # The spec keeps its own name (results show it); its directory is its md5, so two never collide.
        base = Path(name).name
        named = specs_dir / md5 / (base if base not in ("", ".", "..") else "spec.json")
        try:
            document = json.loads(cached.read_bytes())
        except ValueError:
            raise ArtifactRefused(f"job.specs: {base}: expected a JSON spec, got other bytes") from None
        document = spec_with_fetched_files(document, setup.remote.url, setup.artifact_dir, base)
        named.parent.mkdir(parents=True, exist_ok=True)
        named.write_text(json.dumps(document, indent=2, sort_keys=True))
        specs.append(str(named))
    return dataclasses.replace(
        job,
        specs=tuple(specs),
        spec_md5s=(),
        arms=arms,
        platform=PlatformSelection(name=setup.platform, devices=(setup.device,), options=setup.platform_options),
        model_cache=ModelCacheOptions(str(setup.model_dir), None, job.model_cache.max_download_mb),
        reporters=Reporters(remote=setup.remote),
    )


def _fetched_arm(arm: Arm, setup: WorkerSetup) -> Arm:
    arm = _with_fetched_model(arm, setup)
    if arm.program_md5 is None:
        if arm.program is not None:
            raise ArtifactRefused(
                f"arms.{arm.name}.program: a lab worker runs only programs named by md5 (program_md5), "
                f"not the path {arm.program!r}"
            )
        return arm
    return dataclasses.replace(arm, program=str(fetch(setup.remote.url, arm.program_md5, setup.artifact_dir, True)))


def _with_fetched_model(arm: Arm, setup: WorkerSetup) -> Arm:
    """The arm with its own model file fetched, checked and named by its cached copy, under its own name."""
    if ARM_MODEL not in arm.options and ARM_MODEL_MD5 not in arm.options:
        return arm
    name = arm.options.get(ARM_MODEL)
    md5 = arm.options.get(ARM_MODEL_MD5)
    if md5 is None:
        raise ArtifactRefused(
            f"arms.{arm.name}.options.model: a lab worker runs only model files named by md5 ({ARM_MODEL_MD5}), "
            f"not the path {str(name)[:200]!r}"
        )
    cached = fetch(setup.remote.url, md5, setup.artifact_dir)
    copy = named_copy(cached, setup.artifact_dir, md5, {"filename": name if isinstance(name, str) else ""})
    return dataclasses.replace(arm, options={**arm.options, ARM_MODEL: str(copy)})
