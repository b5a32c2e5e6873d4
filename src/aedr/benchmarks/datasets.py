"""The data-set registry: one entry per data set the benchmark can run on.

Adding a data set is one entry in :data:`DATASETS`: a name, a description
a loader ``load(data_dir) -> (X, y)`` and, for data read from files, ``files(data_dir)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aedr.data.datasets import load_digits_data, load_mnist, mnist_files


@dataclass(frozen=True)
class DatasetSpec:
    """How to get one data set: rows ``X`` and integer labels ``y``."""

    description: str
    load: Callable[[Path | None], tuple[np.ndarray, np.ndarray]]
    heldout_rows: int | None = None
    """The last ``heldout_rows`` rows are the data set's own test split and are held out;
    None: the runner holds out a seeded stratified share instead."""
    default_run: bool = True
    """In a plain ``aedr benchmark`` (else run when named with ``--datasets``)."""
    files: Callable[[Path | None], list[Path]] = lambda _: []
    """The files ``load`` reads from ``data_dir`` (checked before any method runs); none for the data
    sets that ship with scikit-learn."""


def _breast_cancer(_):
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


DATASETS: dict[str, DatasetSpec] = {
    "breast-cancer": DatasetSpec(
        "scikit-learn's Wisconsin breast cancer, 569 x 30 tabular measurements in their own units, 2 classes",
        _breast_cancer,
        default_run=False,
    ),
    "digits": DatasetSpec("scikit-learn's 8x8 digits, 1,797 x 64, pixel values 0-16", lambda _: load_digits_data()),
    "mnist10k": DatasetSpec(
        "MNIST's 10k test images, 10,000 x 784 in [0, 1]",
        lambda d: load_mnist("test", d),
        files=lambda d: mnist_files("test", d),
    ),
    "mnist70k": DatasetSpec(
        "all of MNIST, 70,000 x 784 in [0, 1], split as MNIST splits it (train / test)",
        lambda d: load_mnist("all", d),
        heldout_rows=10_000,
        files=lambda d: mnist_files("all", d),
    ),
}
