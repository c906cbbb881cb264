"""Which model file each arm of a test runs: the spec's, an arm's own, each through its optimizer chain.

An A/B of two model variants is an A/B of two files on one runtime, so the variant is
decided here, before the rounds, and every round of an arm runs the same bytes. An arm's
`optimizers` (from --info or the job) replace the test's chain for that arm; its `model`
replaces the spec's model file. The dataset's samples go to the device once, as a .npy
file, for the quality pass and for nothing else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aipep_core.errors import UserError
from aipep_core.job import Arm
from aipep_core.model_variants import QUANTIZE, DatasetSpec, parse_optimizers
from aipep_core.spec import TestSpec
from harness.model_cache import file_md5
from harness.variants.datasets import check_dataset, load_dataset
from harness.variants.optimizers import Calibration, apply_optimizers
from harness.variants.quality_run import Labelled

MODEL_ROLE = "model"
DATASETS_DIR = "datasets"


@dataclass
class ArmModels:
    """Device files per arm that runs a variant, what each arm runs (for meta), and the labelled data."""

    arm_files: dict[str, dict[str, str]] = field(default_factory=dict)
    described: dict[str, dict[str, Any]] = field(default_factory=dict)
    labelled: Labelled | None = None
    dataset_inputs: str | None = None

    @property
    def variants_differ(self) -> bool:
        """True when the arms run different model files: their outputs are then worth comparing."""
        md5s = {facts["md5"] for facts in self.described.values()}
        return len(md5s) > 1


def arm_models(
    test: TestSpec,
    arms: list[Arm],
    local_files: dict[str, Path],
    device_files: dict[str, str],
    cache_dir: Path,
    platform,
) -> ArmModels:
    """Make (or find in the cache) every arm's variant and push it; load and push the test's dataset."""
    models = ArmModels()
    if test.dataset is not None:
        where = f"{test.where}.dataset"
        data = load_dataset(test.dataset, where)
        models.labelled = Labelled(data, {**_dataset_facts(test.dataset), "samples": int(len(data.labels))})
        models.dataset_inputs = platform.push(_samples_file(test.dataset, data.inputs, cache_dir))
    if not test.optimizers and not any(_is_variant(arm) for arm in arms):
        return models
    role = _model_role(local_files, test)
    calibration = _calibration(test)
    for arm in arms:
        base, where = local_files[role], f"{test.where}.optimizers"
        if "model" in arm.options:
            base = Path(arm.options["model"]).expanduser()
            if not base.is_file():
                raise UserError(f"--info: {arm.name}.model: expected an existing model file, got {base}")
        chain = test.optimizers
        if "optimizers" in arm.options:
            where = f"--info: {arm.name}.optimizers"
            chain = parse_optimizers(arm.options["optimizers"], where)
        variant = apply_optimizers(base, chain, cache_dir, where, calibration)
        models.described[arm.name] = {
            "file": variant.name,
            "md5": file_md5(variant),
            "size_bytes": variant.stat().st_size,
            "optimizers": [optimizer.to_json() for optimizer in chain],
        }
        if variant != local_files[role]:
            models.arm_files[arm.name] = {**device_files, role: platform.push(variant)}
    return models


def _model_role(local_files: dict[str, Path], test: TestSpec) -> str:
    """The file a variant replaces: the `model` role, or the spec's only file whatever its role."""
    if MODEL_ROLE in local_files:
        return MODEL_ROLE
    if len(local_files) == 1:
        return next(iter(local_files))
    raise UserError(
        f"{test.where}.optimizers: model variants replace the '{MODEL_ROLE}' file of model.files (or its only "
        f"file); this model has {', '.join(sorted(local_files)) or 'none'}"
    )


def check_variants(test: TestSpec, arms: list[Arm]) -> None:
    """What can be refused before any device is opened: an arm's missing model file, an unknown dataset,
    static quantization without a dataset."""
    for arm in arms:
        if "model" in arm.options and not Path(arm.options["model"]).expanduser().is_file():
            raise UserError(f"--info: {arm.name}.model: expected an existing model file, got {arm.options['model']}")
    if test.dataset is not None:
        check_dataset(test.dataset, f"{test.where}.dataset")
        return
    chains = [(f"{test.where}.optimizers", test.optimizers)]
    chains += [
        (
            f"--info: {arm.name}.optimizers",
            parse_optimizers(arm.options["optimizers"], f"--info: {arm.name}.optimizers"),
        )
        for arm in arms
        if "optimizers" in arm.options
    ]
    for where, chain in chains:
        for index, optimizer in enumerate(chain):
            if optimizer.type == QUANTIZE and optimizer.setting("mode") == "static":
                raise UserError(
                    f"{where}[{index}] ({optimizer.describe()}): static quantization calibrates on the test's "
                    "dataset; the test has none"
                )


def _is_variant(arm: Arm) -> bool:
    return "optimizers" in arm.options or "model" in arm.options


def _calibration(test: TestSpec) -> Calibration | None:
    """Static quantization reads activation ranges from the dataset's train split, never the samples judged."""
    if test.dataset is None:
        return None
    train = DatasetSpec(test.dataset.name, "train")
    return Calibration(load_dataset(train, f"{test.where}.dataset").inputs, f"{train.name}/{train.split}")


def _dataset_facts(dataset: DatasetSpec) -> dict[str, Any]:
    return {"name": dataset.name, "split": dataset.split, "limit": dataset.limit}


def _samples_file(dataset: DatasetSpec, inputs: np.ndarray, cache_dir: Path) -> Path:
    """The samples as .npy in the cache, written once per content (the name carries its md5)."""
    directory = cache_dir / DATASETS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    payload = np.ascontiguousarray(inputs)
    digest = hashlib.md5(payload.tobytes() + str(payload.shape).encode()).hexdigest()[:16]
    target = directory / f"{dataset.name}-{dataset.split}-{digest}.npy"
    if not target.is_file():
        partial = target.with_suffix(".part.npy")
        np.save(partial, payload, allow_pickle=False)
        partial.replace(target)
    return target
