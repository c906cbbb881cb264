"""Labelled datasets a package ships, by name: the data a test's accuracy is measured on.

No hub is reachable from a build machine, so a dataset here is one a Python package carries
(scikit-learn's digits first); a loader registers under its name, so another dataset is one
function more. Splits are fixed (a seeded, stratified split), so both arms of a run, and every
run of every version, see the same samples in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from aipep_core.errors import UserError
from aipep_core.model_variants import DatasetSpec

SPLIT_SEED = 0
TEST_FRACTION = 0.3


@dataclass(frozen=True)
class LabelledData:
    """`inputs` float32 with one sample per row, `labels` int64 class indices into `classes`."""

    inputs: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]


Loader = Callable[[str], LabelledData]
_LOADERS: dict[str, Loader] = {}


def register_dataset(name: str) -> Callable[[Loader], Loader]:
    def decorate(loader: Loader) -> Loader:
        _LOADERS[name] = loader
        return loader

    return decorate


def available_datasets() -> list[str]:
    return sorted(_LOADERS)


def check_dataset(dataset: DatasetSpec, where: str) -> None:
    """Refuse an unknown name before any device is opened."""
    if dataset.name not in _LOADERS:
        raise UserError(
            f"{where}.name: unknown dataset {dataset.name!r}, expected one of {', '.join(available_datasets())}"
        )


def load_dataset(dataset: DatasetSpec, where: str) -> LabelledData:
    """The samples a test names: its split, the first `limit` of them."""
    check_dataset(dataset, where)
    data = _LOADERS[dataset.name](dataset.split)
    if dataset.limit is None:
        return data
    return LabelledData(data.inputs[: dataset.limit], data.labels[: dataset.limit], data.classes)


@register_dataset("digits")
def digits(split: str) -> LabelledData:
    """scikit-learn's 8x8 handwritten digits (1797 images), pixels scaled to [0, 1], 70/30 stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    inputs = (bunch.data / 16.0).astype(np.float32)
    labels = bunch.target.astype(np.int64)
    train_x, test_x, train_y, test_y = train_test_split(
        inputs, labels, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels
    )
    chosen = (train_x, train_y) if split == "train" else (test_x, test_y)
    return LabelledData(np.ascontiguousarray(chosen[0]), chosen[1], tuple(str(name) for name in bunch.target_names))
